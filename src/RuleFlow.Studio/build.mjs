// Builds RuleFlow Studio for the server's MSBuild target (src/RuleFlow.Server/Studio.targets):
//   npm ci          when node_modules is missing or package-lock.json is newer than the last install;
//   npm run build   when a source is newer than the last build (or the output is missing).
// A lock directory (obj/studio.lock, atomic mkdir, holding the owner's pid) makes concurrent builds (dotnet test builds the server from several
// test projects at once) wait for each other; the second one then finds everything up to date and does nothing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(here, '../RuleFlow.Server/wwwroot/studio');
const lockDir = path.resolve(here, '../RuleFlow.Server/obj/studio.lock');
const installStamp = path.join(here, 'node_modules', '.ruleflow-npm-ci');
const buildStamp = path.join(outDir, 'index.html');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function log(message) { console.log(`RuleFlow.Studio: ${message}`); }
function mtime(file) { try { return fs.statSync(file).mtimeMs; } catch { return -1; } }
function newest(entries) {
  let latest = -1;
  for (const entry of entries) {
    const full = path.join(here, entry);
    let stat;
    try { stat = fs.statSync(full); } catch { continue; }
    if (stat.isDirectory()) {
      latest = Math.max(latest, newest(fs.readdirSync(full).map(e => path.join(entry, e))));
    } else {
      latest = Math.max(latest, stat.mtimeMs);
    }
  }
  return latest;
}
function run(args) {
  log(`npm ${args.join(' ')}`);
  const result = spawnSync(npm, args, { cwd: here, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) { console.error(`RuleFlow.Studio: error: could not run npm: ${result.error.message}`); process.exit(1); }
  if (result.status !== 0) { console.error(`RuleFlow.Studio: error: npm ${args.join(' ')} exited with ${result.status}`); process.exit(result.status ?? 1); }
}
function sleep(ms) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); }

fs.mkdirSync(path.dirname(lockDir), { recursive: true });
const ownerFile = path.join(lockDir, 'pid');
function ownerAlive() {
  let pid;
  try { pid = Number(fs.readFileSync(ownerFile, 'utf8')); } catch { return undefined; } // not written yet (or no owner file)
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}
const started = Date.now();
for (;;) {
  try { fs.mkdirSync(lockDir); fs.writeFileSync(ownerFile, String(process.pid)); break; } catch (e) {
    if (e.code !== 'EEXIST') throw e;
    // A lock whose build is gone (killed, or a failed npm that exited) is taken over at once; one without an owner file
    // for more than a minute was left between its mkdir and its write.
    const alive = ownerAlive();
    if (alive === false || (alive === undefined && Date.now() - mtime(lockDir) > 60_000)) {
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > 15 * 60_000) { console.error(`RuleFlow.Studio: error: ${lockDir} is held by another build (pid in ${ownerFile}); remove it if no build runs`); process.exit(1); }
    sleep(500);
  }
}
// Released however this process ends: normally, through process.exit (a failed npm), or on Ctrl-C / SIGTERM.
const release = () => fs.rmSync(lockDir, { recursive: true, force: true });
process.on('exit', release);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
try {
  if (mtime(installStamp) < mtime(path.join(here, 'package-lock.json'))) {
    run(['ci', '--no-audit', '--no-fund']);
    fs.writeFileSync(installStamp, new Date().toISOString());
  }
  // the designer bundles the workflow JSON Schema from docs/
  const sources = newest(['src', 'index.html', 'vite.config.ts', 'tsconfig.json', 'package-lock.json', 'public', '../../docs/workflow.schema.json']);
  if (mtime(buildStamp) < sources || mtime(buildStamp) < mtime(installStamp)) {
    run(['run', 'build']);
  } else {
    log('up to date');
  }
} finally {
  release();
}
