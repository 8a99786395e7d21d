// Regenerates the TypeScript types for protos/ with @grpc/proto-loader's generator (no protoc needed).
// CI runs this and `git diff --exit-code protos/gen` so the checked-in types never drift from the .proto.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const generator = path.join(path.dirname(require.resolve('@grpc/proto-loader/package.json')), 'build/bin/proto-loader-gen-types.js');
rmSync(path.join(root, 'protos/gen'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    generator,
    '--longs=Number',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    '--includeDirs=protos',
    '--outDir=protos/gen',
    'tessera/v1/federation.proto',
  ],
  { cwd: root, stdio: 'inherit' },
);
// The generator writes extensionless relative imports; ESM with `moduleResolution: nodenext` needs `.js`.
for (const file of readdirSync(path.join(root, 'protos/gen'), { recursive: true })) {
  const full = path.join(root, 'protos/gen', String(file));
  if (!full.endsWith('.ts')) continue;
  const text = readFileSync(full, 'utf8').replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.js'");
  writeFileSync(full, text);
}
