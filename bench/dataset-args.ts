/**
 * The command-line flags that choose a dataset, shared by the benchmarks: `--scale
 * small|medium|large`, explicit counts (`--users`, `--groups`, `--folders`, `--documents`,
 * `--organizations`; any of them makes the scale `custom`) and `--seed`.
 */
import { type DatasetSizes, isScaleName, SCALES } from "./dataset.js";

/** `parseArgs` option definitions; spread into a benchmark's own. */
export function datasetFlags(defaultScale: string) {
  return {
    scale: { type: "string", default: defaultScale },
    users: { type: "string" },
    groups: { type: "string" },
    folders: { type: "string" },
    documents: { type: "string" },
    organizations: { type: "string" },
    seed: { type: "string", default: "42" },
  } as const;
}

export interface DatasetChoice {
  /** A scale name, or `custom` when a count was given. */
  readonly scale: string;
  readonly sizes: DatasetSizes;
  readonly seed: number;
}

/** Parses a flag's integer value, naming the flag when it is not one. */
export function integerFlag(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new TypeError(`--${flag} must be an integer of at least ${min}, got "${text}"`);
  }
  return n;
}

export function datasetChoice(values: {
  scale?: string;
  users?: string;
  groups?: string;
  folders?: string;
  documents?: string;
  organizations?: string;
  seed?: string;
}): DatasetChoice {
  const scaleName = values.scale ?? "medium";
  if (!isScaleName(scaleName)) {
    throw new TypeError(`--scale must be one of ${Object.keys(SCALES).join(", ")}`);
  }
  let scale: string = scaleName;
  const overrides: Record<string, number> = {};
  for (const key of ["users", "groups", "folders", "documents", "organizations"] as const) {
    const text = values[key];
    if (text !== undefined) {
      overrides[key] = integerFlag(key, text, 1);
      scale = "custom";
    }
  }
  return {
    scale,
    sizes: { ...SCALES[scaleName], ...overrides },
    seed: integerFlag("seed", values.seed ?? "42", 0),
  };
}
