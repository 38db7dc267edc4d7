/** The presets of `schema/`, bundled by `playground/build.mjs`. */
declare module "virtual:trellis-presets" {
  export interface Preset {
    /** `docs`, from `schema/docs.zed`. */
    readonly name: string;
    /** The first line of the schema's leading doc comment. */
    readonly title: string;
    /** `docs.zed`: the name its validation file's `schemaFile:` uses. */
    readonly schemaFile: string;
    readonly schema: string;
    /** The preset's validation file (`schema/docs.yaml`), or empty. */
    readonly validation: string;
  }
  export const PRESETS: readonly Preset[];
}
