import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, checkAgentConfig } from '../../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../../shared/src/config/validate.js';

const parse = (text: string): unknown => parseConfigText(AgentConfigSchema, text, 'agent.yaml', checkAgentConfig);

const sources = `sources:
  web:
    kind: dicomweb
    url: https://pacs.example/dicom-web
    auth: { type: basic, username: tessera, passwordFile: pw.txt }
    ca: ca.pem
  dimse:
    kind: dimse
    host: archive
    port: 104
    calledAeTitle: ARCHIVE
    callingAeTitle: TESSERA
`;

function withDataset(dataset: string, extraSources = ''): string {
  return `kit: ./kit\n${sources}${extraSources}datasets:\n  chest:\n    kind: imaging-study\n    cache: ./cache\n    secret: ./s.hex\n    inputShape: [64, 64, 1]\n${dataset}`;
}

describe('agent.yaml PACS sources', () => {
  it('accepts a dicomweb and a dimse source and datasets that name them with a query', () => {
    expect(() => parse(withDataset('    source: web\n    query: { modalities: [CR, DX], studyDateFrom: "20230101", studyDateTo: "20231231", accessionNumbers: [A1, A2] }\n'))).not.toThrow();
    expect(() => parse(withDataset('    source: dimse\n'))).not.toThrow();
  });

  it('names the field of each rule a schema cannot state', () => {
    expect(() => parse(withDataset('    dicom: ./in\n    source: web\n'))).toThrow(/'datasets\.chest' needs exactly one of dicom .* and source/);
    expect(() => parse(withDataset(''))).toThrow(/'datasets\.chest' needs exactly one of dicom/);
    expect(() => parse(withDataset('    source: nowhere\n'))).toThrow(/'datasets\.chest\.source' names 'nowhere', which is not in sources/);
    expect(() => parse(withDataset('    dicom: ./in\n    query: { modalities: [CT] }\n'))).toThrow(/'datasets\.chest\.query' applies to a PACS source only/);
    expect(() => parse(withDataset('    source: web\n    query: { studyDateFrom: "20240101", studyDateTo: "20230101" }\n'))).toThrow(/studyDateFrom' is after studyDateTo/);
    expect(() => parse(withDataset('    source: web\n', '  move:\n    kind: dimse\n    host: a\n    port: 104\n    calledAeTitle: A\n    callingAeTitle: B\n    retrieve: c-move\n'))).toThrow(/'sources\.move\.storeScp' is required when retrieve is c-move/);
    expect(() => parse(withDataset('    source: web\n', '  plain:\n    kind: dicomweb\n    url: http://pacs/dicom-web\n    ca: ca.pem\n'))).toThrow(/'sources\.plain\.ca' needs an https:\/\/ url/);
  });

  it('refuses unknown keys, bad URLs, AE titles longer than 16 characters, a zero rate and secrets inline', () => {
    expect(() => parse(withDataset('    source: web\n', '  x:\n    kind: dicomweb\n    url: ftp://pacs\n'))).toThrow(/url/);
    expect(() => parse(withDataset('    source: web\n', '  x:\n    kind: dimse\n    host: a\n    port: 104\n    calledAeTitle: THIS-IS-TOO-LONG-AE\n    callingAeTitle: B\n'))).toThrow(/calledAeTitle/);
    expect(() => parse(withDataset('    source: web\n', '  x:\n    kind: dicomweb\n    url: http://pacs\n    requestsPerSecond: 0\n'))).toThrow(/requestsPerSecond/);
    expect(() => parse(withDataset('    source: web\n', '  x:\n    kind: dicomweb\n    url: http://pacs\n    auth: { type: basic, username: u, password: secret }\n'))).toThrow(/auth/);
  });
});
