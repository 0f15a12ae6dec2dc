/** Entry point of the `switchboard` CLI (see switchboardCli.ts for commands and exit codes). */
import { runCli } from './switchboardCli';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
});
