import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { provisionConsortium } from '../../../coordinator/src/pki/index.js';
import { parseConsortiumConfig } from '../../../shared/src/config/consortium-config.js';
import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS, COORDINATOR_NODE_FLAGS, tesseraBin } from '../bin-path.js';
import { type CoordinatorIpcMessage, isCoordinatorIpcMessage } from './ipc.js';
import { freePort, TcpProxy } from './tcp-proxy.js';

/** Operators to provision: REST tokens land in `pki/operators/<id>/token`. */
export type LocalOperator = { id: string; role: 'operator' | 'compliance' | 'site-admin'; site?: string };

/** coordinator.yaml's `tls` section for a consortium provisioned in `pkiDir`. */
export interface CoordinatorTlsFiles {
  ca: string;
  cert: string;
  key: string;
  revocations: string;
}

/** The coordinator's TLS files in a provisioned `pkiDir`. */
export function coordinatorTlsFiles(pkiDir: string): CoordinatorTlsFiles {
  const c = path.join(pkiDir, 'coordinator');
  return { ca: path.join(c, 'ca.crt'), cert: path.join(c, 'server.crt'), key: path.join(c, 'server.key'), revocations: path.join(c, 'revocations.json') };
}

/**
 * A throwaway consortium for loopback: writes `<dir>/consortium.yaml` and provisions it into `<dir>/pki` (CA,
 * coordinator certificate, a kit per site, operator tokens). Returns the pki folder.
 */
export function provisionLocalConsortium(dir: string, o: { name: string; siteIds: readonly string[]; port?: number; operators?: readonly LocalOperator[] }): string {
  const consortiumYaml = path.join(dir, 'consortium.yaml');
  const text = JSON.stringify(
    { name: o.name, coordinator: { host: '127.0.0.1', port: o.port ?? 0 }, sites: o.siteIds.map((id) => ({ id })), operators: o.operators ?? [] },
    null,
    2,
  );
  writeFileSync(consortiumYaml, text);
  const pkiDir = path.join(dir, 'pki');
  provisionConsortium(parseConsortiumConfig(text, consortiumYaml), pkiDir, new Date());
  return pkiDir;
}

/** One site of a {@link LocalFederation}. */
export interface LocalSiteOptions {
  id: string;
  /** agent.yaml `datasets`. */
  datasets: Record<string, Record<string, unknown>>;
  /** Further agent.yaml keys (`privacy`, `policy`, `reconnect`, …). */
  config?: Record<string, unknown>;
  /** Extra environment of the agent process. */
  env?: Record<string, string>;
  /** Left out of {@link LocalFederation.start}; start it with {@link LocalFederation.startAgent}. @default false */
  startLate?: boolean;
  /** Dial the coordinator through a {@link TcpProxy} that can cut this agent's connections. @default false */
  proxy?: boolean | { cutOnceAfterBytes: number };
}

/** Options for {@link LocalFederation.create}. */
export interface LocalFederationOptions {
  /** Where the consortium, configs, state and logs go. @default a new temporary folder, removed by close() */
  workdir?: string;
  /** Keep the workdir on close(). @default true when `workdir` is given, false otherwise */
  keep?: boolean;
  /** Use this already provisioned consortium (a `pki` folder holding these sites' kits) instead of provisioning one. */
  pkiDir?: string;
  /**
   * The coordinator is not the launcher's (it runs in the calling process, on this port): agents dial it, and
   * {@link LocalFederation.startCoordinator} is refused. @default the launcher forks its own, on a free port
   */
  coordinatorPort?: number;
  /** Consortium name. @default 'local' */
  name?: string;
  sites: readonly LocalSiteOptions[];
  /** REST operators to provision (tokens in `pki/operators/<id>/token`). @default none */
  operators?: readonly LocalOperator[];
  coordinator?: {
    /** coordinator.yaml keys beyond listen, dataDir and tls (heartbeatIntervalMs, api, …). */
    config?: Record<string, unknown>;
    /** Study files passed as `--study` (run in order). */
    studies?: readonly string[];
    /** `--exit-when-done`. @default false */
    exitWhenDone?: boolean;
    /** `--api-port`. */
    apiPort?: number;
  };
  /** Children's stdout/stderr: appended to `<workdir>/logs/<name>.log`, or dropped. @default 'files' */
  logs?: 'files' | 'ignore';
  /** TESSERA_LOG_LEVEL of every child. @default the parent's, else the children's own default */
  logLevel?: string;
}

/** A child this launcher started, and whether it was stopped on purpose. */
interface Child {
  process: ChildProcess;
  stopping: boolean;
}

/** Options of {@link LocalFederation.waitForMessage}. */
export interface WaitOptions {
  /** @default 600000 */
  timeoutMs?: number;
}

/**
 * A whole federation on this machine, as separate processes over mTLS on 127.0.0.1: a throwaway consortium
 * (CA, coordinator certificate, one kit per site, operator tokens), coordinator.yaml and one agent.yaml per
 * site, a `tessera coordinator` and N `tessera agent` processes with the shipped node flags, optional TCP
 * proxies between agents and coordinator, and fault injection (SIGKILL and restart of any process, agents
 * that start late, connections cut). Used by `tessera demo`, the benches and the integration tests.
 *
 * The coordinator's port is chosen once and kept, so agents find a restarted coordinator where they left it.
 */
export class LocalFederation {
  readonly pkiDir: string;
  /** coordinator.yaml */
  readonly coordinatorConfig: string;
  private coordinatorChild: Child | undefined;
  private readonly agents = new Map<string, Child>();
  private readonly proxies = new Map<string, TcpProxy>();
  private readonly listeners = new Set<(m: CoordinatorIpcMessage) => void>();
  private readonly exitListeners = new Set<(code: number | null, signal: NodeJS.Signals | null) => void>();
  private readonly fds: number[] = [];
  private connected: readonly string[] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    /** gRPC port of the coordinator (fixed across restarts). */
    readonly port: number,
    private readonly options: LocalFederationOptions,
    private readonly keep: boolean,
  ) {
    this.pkiDir = options.pkiDir ?? path.join(dir, 'pki');
    this.coordinatorConfig = path.join(dir, 'coordinator.yaml');
  }

  /** Provisions the consortium and writes every config; starts nothing (see {@link start}). */
  static async create(options: LocalFederationOptions): Promise<LocalFederation> {
    const dir = path.resolve(options.workdir ?? mkdtempSync(path.join(os.tmpdir(), 'tessera-fed-')));
    mkdirSync(path.join(dir, 'logs'), { recursive: true, mode: 0o700 });
    const fed = new LocalFederation(dir, options.coordinatorPort ?? (await freePort()), options, options.keep ?? options.workdir !== undefined);
    fed.provision();
    for (const s of options.sites) {
      const proxy = s.proxy === undefined || s.proxy === false ? undefined : await TcpProxy.start({ target: fed.port, ...(s.proxy === true ? {} : s.proxy) });
      if (proxy) fed.proxies.set(s.id, proxy);
      fed.writeAgentConfig(s, proxy?.port ?? fed.port);
    }
    return fed;
  }

  /** Site ids, in the order given. */
  get siteIds(): string[] {
    return this.options.sites.map((s) => s.id);
  }

  /** The sites connected to the forked coordinator, as it last reported. */
  get connectedSites(): readonly string[] {
    return this.connected;
  }

  /** TLS files of the coordinator, for a coordinator run in the calling process instead of forked. */
  coordinatorTls(): CoordinatorTlsFiles {
    return coordinatorTlsFiles(this.pkiDir);
  }

  /** The agent.yaml written for a site. */
  agentConfig(siteId: string): string {
    return path.join(this.dir, `agent-${siteId}.yaml`);
  }

  /** The proxy in front of a site's agent, when it has one. */
  proxy(siteId: string): TcpProxy | undefined {
    return this.proxies.get(siteId);
  }

  /** The live process of the coordinator (`'coordinator'`) or a site (its id), if running. */
  process(target: string): ChildProcess | undefined {
    const child = target === 'coordinator' ? this.coordinatorChild : this.agents.get(target);
    return child && isRunning(child.process) ? child.process : undefined;
  }

  /** Forks the coordinator and waits until it listens, then forks every agent that does not start late. */
  async start(): Promise<void> {
    await this.startCoordinator();
    for (const s of this.options.sites) if (!s.startLate) this.startAgent(s.id);
  }

  /** Forks `tessera coordinator` (again, after a kill) and waits for its `listening` message. */
  async startCoordinator(): Promise<void> {
    if (this.options.coordinatorPort !== undefined) throw new Error('this federation dials a coordinator it does not run');
    if (this.process('coordinator')) throw new Error('the coordinator is already running');
    const o = this.options.coordinator ?? {};
    const args = ['coordinator', '--config', this.coordinatorConfig, ...(o.studies ?? []).flatMap((f) => ['--study', f])];
    if (o.exitWhenDone) args.push('--exit-when-done');
    if (o.apiPort !== undefined) args.push('--api-port', String(o.apiPort));
    const listening = this.waitForMessage((m) => m.kind === 'listening', { timeoutMs: 120_000 });
    const child = this.fork('coordinator', args, [...COORDINATOR_NODE_FLAGS], {});
    this.coordinatorChild = child;
    this.connected = [];
    child.process.on('message', (raw: unknown) => {
      if (!isCoordinatorIpcMessage(raw)) return;
      if (raw.kind === 'sites') this.connected = raw.connected;
      for (const fn of this.listeners) fn(raw);
    });
    child.process.on('exit', (code, signal) => {
      this.connected = [];
      for (const fn of this.exitListeners) fn(code, signal);
    });
    await listening;
  }

  /** Forks a site's agent (a late one, or again after a kill). */
  startAgent(siteId: string): ChildProcess {
    const site = this.options.sites.find((s) => s.id === siteId);
    if (!site) throw new Error(`no site ${siteId} in this federation`);
    if (this.process(siteId)) throw new Error(`the agent of ${siteId} is already running`);
    const child = this.fork(siteId, ['agent', '--config', this.agentConfig(siteId)], [...AGENT_NODE_FLAGS], { ...AGENT_MALLOC_ENV, ...site.env });
    this.agents.set(siteId, child);
    return child.process;
  }

  /** Sends a signal (SIGKILL by default: a crash) to the coordinator or a site's agent and waits for it to exit. */
  async kill(target: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = target === 'coordinator' ? this.coordinatorChild : this.agents.get(target);
    if (!child || !isRunning(child.process)) return;
    child.stopping = true;
    const exited = new Promise((r) => child.process.once('exit', r));
    child.process.kill(signal);
    await exited;
  }

  /** Kill (SIGKILL) and start again: the coordinator on the same port, state and studies; an agent with the same config. */
  async restart(target: string): Promise<void> {
    await this.kill(target);
    if (target === 'coordinator') await this.startCoordinator();
    else this.startAgent(target);
  }

  /** Subscribes to the coordinator's IPC messages (across restarts); returns the unsubscribe. */
  onMessage(fn: (m: CoordinatorIpcMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * The next coordinator message that satisfies `match`. Rejects on timeout, and when the coordinator exits
   * without being told to (a crash or an early exit), naming its log.
   */
  waitForMessage<T extends CoordinatorIpcMessage>(match: (m: CoordinatorIpcMessage) => m is T, options?: WaitOptions): Promise<T>;
  waitForMessage(match: (m: CoordinatorIpcMessage) => boolean, options?: WaitOptions): Promise<CoordinatorIpcMessage>;
  waitForMessage(match: (m: CoordinatorIpcMessage) => boolean, options: WaitOptions = {}): Promise<CoordinatorIpcMessage> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(onMessage);
        this.exitListeners.delete(onExit);
      };
      const onMessage = (m: CoordinatorIpcMessage): void => {
        if (!match(m)) return;
        done();
        resolve(m);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.coordinatorChild?.stopping && !this.closed) return;
        done();
        if (this.closed) return;
        reject(new Error(`coordinator exited (${signal ?? `code ${String(code)}`}) while waiting; see ${this.logFile('coordinator')}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching coordinator message within ${options.timeoutMs ?? 600_000} ms`));
      }, options.timeoutMs ?? 600_000);
      this.listeners.add(onMessage);
      this.exitListeners.add(onExit);
    });
  }

  /** Resolves once every named site (all by default) is connected to the forked coordinator. */
  async waitForSites(ids: readonly string[] = this.siteIds, options?: WaitOptions): Promise<void> {
    const all = (): boolean => ids.every((id) => this.connected.includes(id));
    if (all()) return;
    await this.waitForMessage((m) => m.kind === 'sites' && ids.every((id) => m.connected.includes(id)), options);
  }

  /** Where a process's output goes. */
  logFile(name: string): string {
    return path.join(this.dir, 'logs', `${name}.log`);
  }

  /** Stops every process (SIGTERM, then SIGKILL after `graceMs`), closes the proxies, and removes a temporary workdir. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const children = [...this.agents.values(), ...(this.coordinatorChild ? [this.coordinatorChild] : [])];
    await Promise.all(
      children.map(async (c) => {
        if (!isRunning(c.process)) return;
        c.stopping = true;
        const exited = new Promise((r) => c.process.once('exit', r));
        c.process.kill('SIGTERM');
        const timer = setTimeout(() => c.process.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    for (const fd of this.fds.splice(0)) closeSync(fd);
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
  }

  private provision(): void {
    const o = this.options;
    if (o.pkiDir === undefined) provisionLocalConsortium(this.dir, { name: o.name ?? 'local', siteIds: this.siteIds, port: this.port, ...(o.operators ? { operators: o.operators } : {}) });
    const config = {
      listen: { host: '127.0.0.1', port: this.port },
      dataDir: path.join(this.dir, 'coordinator-data'),
      tls: this.coordinatorTls(),
      ...o.coordinator?.config,
    };
    writeFileSync(this.coordinatorConfig, JSON.stringify(config, null, 2));
  }

  private writeAgentConfig(site: LocalSiteOptions, port: number): void {
    const config = { kit: path.join(this.pkiDir, 'sites', site.id), coordinator: `127.0.0.1:${port}`, datasets: site.datasets, ...site.config };
    writeFileSync(this.agentConfig(site.id), JSON.stringify(config, null, 2));
  }

  private fork(name: string, args: string[], execArgv: string[], env: Record<string, string>): Child {
    if (this.closed) throw new Error('the federation is closed');
    let stdio: ['ignore', number | 'ignore', number | 'ignore', 'ipc'] = ['ignore', 'ignore', 'ignore', 'ipc'];
    if ((this.options.logs ?? 'files') === 'files') {
      const fd = openSync(this.logFile(name), 'a', 0o600);
      this.fds.push(fd);
      stdio = ['ignore', fd, fd, 'ipc'];
    }
    const level = this.options.logLevel ?? process.env['TESSERA_LOG_LEVEL'];
    const child = fork(tesseraBin(), args, { stdio, execArgv, env: { ...process.env, ...env, ...(level !== undefined ? { TESSERA_LOG_LEVEL: level } : {}) } });
    return { process: child, stopping: false };
  }
}

function isRunning(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}
