/** Entry point of the `trellis` executable (bin/trellis imports the built copy of this file). */
import { runCli } from "./program.js";

process.exitCode = await runCli(process.argv.slice(2));
