import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { checkStudySpecData, StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import { API_OPTIONS, API_OPTIONS_USAGE, ApiClient, ProgressBar, resolveApiTarget } from '../api-client.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, processIo } from './command-io.js';

export const STUDY_USAGE = `tessera study <create|start|status|pause|resume|abort> [options]

Runs studies through the coordinator's REST API with an operator token (compliance and site-admin tokens can
use 'status' only).

  tessera study create FILE      create a study from a study file (YAML or JSON; validated here and by the API)
  tessera study start ID [--wait]   start (or restart after a coordinator restart); --wait follows the rounds
                                 with a progress bar until the study ends (exit 0 completed, 3 failed/aborted)
  tessera study status [ID]      one study with its rounds and phase timings, or every study
  tessera study pause ID         stop after the round in flight (resume with 'resume')
  tessera study resume ID [--wait]
  tessera study abort ID [--wait]   end the study for good (after the round in flight)

${API_OPTIONS_USAGE}
  --wait              follow until the study stops (start, resume, abort)`;

interface StudyJson {
  id: string;
  name: string;
  status: string;
  running: boolean;
  completedRounds: number;
  rounds: number;
  reason: string | null;
  spec: { strategy?: string; minSites?: number; model?: string; dataset?: string };
}
interface RoundJson {
  round: number;
  attempt: number;
  status: string;
  durationMs: number | null;
  phases: Record<string, { durationMs: number | null }>;
  metrics: { loss: number; accuracy: number } | null;
  reason: string | null;
}

const TERMINAL = new Set(['completed', 'failed', 'aborted']);

/** `tessera study …`: operator commands over the REST API. */
export async function studyCommand(argv: string[], io: CommandIo = processIo, progressStream: NodeJS.WritableStream = process.stderr): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...API_OPTIONS, wait: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const [sub, arg, ...extra] = positionals;
  if (values.help || sub === undefined) {
    io.out(STUDY_USAGE);
    return values.help ? ExitCode.Ok : ExitCode.Usage;
  }
  if (extra.length > 0) {
    io.err(`tessera study ${sub}: unexpected argument '${extra[0] ?? ''}'`);
    return ExitCode.Usage;
  }
  const needsId = sub !== 'status' && sub !== 'create';
  if ((needsId || sub === 'create') && arg === undefined) {
    io.err(`tessera study ${sub}: missing ${sub === 'create' ? 'FILE' : 'study ID'}\n\n${STUDY_USAGE}`);
    return ExitCode.Usage;
  }
  const client = new ApiClient(resolveApiTarget(values));
  const print = (human: string, json: unknown): void => io.out(values.json ? JSON.stringify(json, null, 2) : human);

  switch (sub) {
    case 'create': {
      const file = path.resolve(arg ?? '');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        io.err(`tessera study create: cannot read ${file}`);
        return ExitCode.InputMissing;
      }
      // Validate locally first: the error names the file and field; the API validates again.
      const spec = parseConfigText(StudySpecSchema, text, file, checkStudySpecData);
      const study = await client.json<StudyJson>('POST', '/api/v1/studies', spec);
      print(`created study ${study.id} (${study.status}): ${study.rounds} rounds, ${study.spec.strategy ?? '?'}, min ${study.spec.minSites ?? '?'} sites`, study);
      return ExitCode.Ok;
    }
    case 'status': {
      if (arg === undefined) {
        const studies = await client.json<StudyJson[]>('GET', '/api/v1/studies');
        const lines = ['study                 status      rounds   strategy', ...studies.map((s) => `${s.id.padEnd(21)} ${s.status.padEnd(11)} ${`${s.completedRounds}/${s.rounds}`.padEnd(8)} ${s.spec.strategy ?? ''}`)];
        print(lines.join('\n'), studies);
        return ExitCode.Ok;
      }
      const study = await client.json<StudyJson>('GET', `/api/v1/studies/${encodeURIComponent(arg)}`);
      // Site-admins may read the contract but not the rounds (403): show the contract alone then.
      const rounds = await client.json<RoundJson[]>('GET', `/api/v1/studies/${encodeURIComponent(arg)}/rounds`).catch(() => null);
      const phase = (r: RoundJson, p: string): string => {
        const d = r.phases[p]?.durationMs;
        return d == null ? '     -' : `${(d / 1000).toFixed(2).padStart(6)}`;
      };
      const lines = [
        `study ${study.id} (${study.name}): ${study.status}${study.reason ? ` (${study.reason})` : ''}, ${study.completedRounds}/${study.rounds} rounds`,
        ...(rounds === null
          ? []
          : [
              'round attempt status       wait(s)  fit(s)  agg(s) eval(s)  eval loss  accuracy',
              ...rounds.map(
                (r) =>
                  `${String(r.round).padStart(5)} ${String(r.attempt).padStart(7)} ${r.status.padEnd(11)} ${phase(r, 'waiting')}  ${phase(r, 'fitting')}  ${phase(r, 'aggregating')}  ${phase(r, 'evaluating')}  ${r.metrics ? r.metrics.loss.toFixed(4).padStart(9) : '        -'}  ${r.metrics ? r.metrics.accuracy.toFixed(3).padStart(8) : '       -'}${r.reason ? `  ${r.reason}` : ''}`,
              ),
            ]),
      ];
      print(lines.join('\n'), { ...study, roundsDetail: rounds });
      return ExitCode.Ok;
    }
    case 'start':
    case 'resume':
    case 'pause':
    case 'abort': {
      const id = arg ?? '';
      const act = (): Promise<StudyJson> => client.json<StudyJson>('POST', `/api/v1/studies/${encodeURIComponent(id)}/${sub}`);
      if (!values.wait || sub === 'pause') {
        const study = await act();
        print(`${sub} requested: study ${study.id} is ${study.status}${sub === 'abort' || sub === 'pause' ? ' (stops after the round in flight)' : ''}`, study);
        return ExitCode.Ok;
      }
      const final = await follow(client, id, act, new ProgressBar(progressStream), values.json);
      print(`study ${final.id} ${final.status}${final.reason ? ` (${final.reason})` : ''} after ${final.completedRounds}/${final.rounds} rounds`, final);
      if (final.status === 'completed') return ExitCode.Ok;
      return final.status === 'paused' ? ExitCode.Ok : ExitCode.StudyFailed;
    }
    default:
      io.err(`tessera study: unknown subcommand '${sub}'\n\n${STUDY_USAGE}`);
      return ExitCode.Usage;
  }
}

/** Opens the event stream, then acts, then draws progress until the study stops; returns its final record. */
async function follow(client: ApiClient, id: string, act: () => Promise<StudyJson>, bar: ProgressBar, quiet: boolean): Promise<StudyJson> {
  let total = 0;
  let done = 0;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const draw = (text: string): void => {
    if (!quiet) bar.update(done, total, text);
  };
  const stream = client.events((e) => {
    if (e.studyId !== id) return false;
    const round = typeof e['round'] === 'number' ? e['round'] : 0;
    if (e.type === 'study-started' && typeof e['rounds'] === 'number') total = e['rounds'];
    if (e.type === 'round-phase') draw(`round ${round}/${total}: ${String(e['phase'])} on ${String(e['sites'])} sites`);
    if (e.type === 'round-started') draw(`round ${round}/${total}: waiting for sites`);
    if (e.type === 'round-failed') draw(`round ${round}/${total} failed: ${String(e['reason'])}`);
    if (e.type === 'round-committed') {
      done = round;
      const m = e['metrics'] as { loss: number; accuracy: number } | null;
      draw(`round ${round}/${total} committed${m ? `: loss ${m.loss.toFixed(4)}, accuracy ${m.accuracy.toFixed(3)}` : ''}`);
    }
    return e.type === 'study-finished' || e.type === 'study-paused';
  }, opened);
  await Promise.race([open, stream]);
  const started = await act();
  total = started.rounds;
  done = started.completedRounds;
  draw(`study ${id} ${started.status}`);
  // Resolves false when the stream closed early (coordinator restart); the stored status below says where it stopped.
  if (!TERMINAL.has(started.status) || started.running) await stream;
  bar.end();
  return client.json<StudyJson>('GET', `/api/v1/studies/${encodeURIComponent(id)}`);
}
