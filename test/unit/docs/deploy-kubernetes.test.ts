import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AgentConfigSchema } from '../../../shared/src/config/agent-config.js';
import { CoordinatorConfigSchema } from '../../../shared/src/config/coordinator-config.js';
import { PrivacyPolicySchema } from '../../../shared/src/config/privacy-policy.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';

// deploy/kubernetes is what hospital IT applies: the embedded configs must validate against the real schemas,
// and every path they name must lie on a volume the container mounts (read-only where it only reads).

const DIR = path.resolve(import.meta.dirname, '../../../deploy/kubernetes');

interface Mount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    template?: {
      spec: {
        securityContext: { runAsNonRoot: boolean; runAsUser: number };
        containers: { args: string[]; volumeMounts: Mount[]; securityContext: { readOnlyRootFilesystem: boolean } }[];
        volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
      };
    };
  };
}

function manifests(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'));
  for (const d of docs) expect(d.errors, file).toEqual([]);
  return docs.map((d) => d.toJS() as Manifest);
}

/** The mount a path lies under (the longest mountPath prefix). */
function mountOf(mounts: Mount[], p: string): Mount | undefined {
  return mounts
    .filter((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

function workload(docs: Manifest[], kind: string): NonNullable<Manifest['spec']>['template'] & object {
  const w = docs.find((d) => d.kind === kind)?.spec?.template;
  if (!w) throw new Error(`no ${kind}`);
  return w;
}

describe('deploy/kubernetes', () => {
  it('has exactly the manifests this test checks', () => {
    expect(readdirSync(DIR).sort()).toEqual(['agent.yaml', 'coordinator.yaml']);
  });

  it('coordinator.yaml: the embedded config validates and its TLS files, tokens and data dir are on the right volumes', () => {
    const docs = manifests('coordinator.yaml');
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Service', 'StatefulSet']);
    const config = parseConfigText(CoordinatorConfigSchema, docs[0]?.data?.['coordinator.yaml'] ?? '', 'coordinator.yaml (ConfigMap)');
    const pod = workload(docs, 'StatefulSet').spec;
    const c = pod.containers[0]!;
    expect(c.args).toEqual(['coordinator', '--config', '/etc/tessera/coordinator.yaml']);
    expect(mountOf(c.volumeMounts, '/etc/tessera/coordinator.yaml')).toMatchObject({ name: 'config', subPath: 'coordinator.yaml' });
    for (const p of [config.tls.ca, config.tls.cert, config.tls.key, config.tls.revocations ?? '', config.api?.tokens ?? '']) {
      expect(mountOf(c.volumeMounts, p), p).toMatchObject({ name: 'kit', readOnly: true });
    }
    expect(mountOf(c.volumeMounts, config.dataDir)?.name).toBe('data');
    expect(mountOf(c.volumeMounts, config.dataDir)?.readOnly).toBeUndefined();
    expect(pod.volumes.find((v) => v.name === 'kit')?.secret?.secretName).toBe('tessera-coordinator-kit');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    // The image's user is the one the pod runs as.
    expect(readFileSync(path.join(DIR, '..', 'Dockerfile'), 'utf8')).toContain('--uid 10001');
  });

  it('agent.yaml: config and privacy policy validate; kit, data, ledgers and policy are on the right volumes; ingress is closed', () => {
    const docs = manifests('agent.yaml');
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'NetworkPolicy']);
    const data = docs[0]?.data ?? {};
    const config = parseConfigText(AgentConfigSchema, data['agent.yaml'] ?? '', 'agent.yaml (ConfigMap)');
    parseConfigText(PrivacyPolicySchema, data['privacy-policy.yaml'] ?? '', 'privacy-policy.yaml (ConfigMap)');
    const pod = workload(docs, 'Deployment').spec;
    const c = pod.containers[0]!;
    expect(c.args).toEqual(['agent', '--config', '/etc/tessera/agent.yaml']);
    const configDir = '/etc/tessera';
    expect(mountOf(c.volumeMounts, config.kit)).toMatchObject({ name: 'kit', readOnly: true });
    expect(mountOf(c.volumeMounts, path.resolve(configDir, config.privacy?.policy ?? ''))).toMatchObject({ name: 'config', subPath: 'privacy-policy.yaml' });
    for (const p of [config.privacy?.ledger ?? '', config.auditLedger ?? '']) expect(mountOf(c.volumeMounts, p)?.name, p).toBe('state');
    for (const ds of Object.values(config.datasets)) {
      const csv = (ds as { csv?: string }).csv ?? '';
      expect(mountOf(c.volumeMounts, csv), csv).toMatchObject({ name: 'data', readOnly: true });
    }
    const policy = docs[3] as unknown as { spec: { policyTypes: string[]; ingress: unknown[]; egress: { ports: { port: number }[] }[] } };
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([]);
    expect(policy.spec.egress.flatMap((e) => e.ports.map((p) => p.port)).sort()).toEqual([53, 53, 7443]);
  });
});
