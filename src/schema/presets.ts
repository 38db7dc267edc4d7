/** The preset schemas shipped in the package's `schema/` folder, each with a validation file. */
export const PRESETS = ["docs", "rbac", "abac", "multitenant-saas"] as const;

export type PresetName = (typeof PRESETS)[number];

export function isPresetName(name: string): name is PresetName {
  return (PRESETS as readonly string[]).includes(name);
}
