/**
 * Values every process on one store must agree on, created once by whichever process comes
 * first: the engine's zookie signing secret is one, so that replicas started the same way
 * honour each other's zookies.
 */

/**
 * Store-wide named secrets (not per tenant, outside revisions and the changelog). They are
 * kept as given, not hashed, since they must be read back: whoever can read the database can
 * read them. The common rules of `Datastore` (datastore.ts) apply.
 */
export interface SecretStore {
  /**
   * The value stored under `name`; when there is none yet, stores `generate()` and returns it.
   * One value is ever stored under a name, and it is never replaced: processes or instances
   * racing on an empty store all get the value stored first, whatever their own `generate()`
   * returned. `generate` is called at most once per call, and not at all when a value is
   * stored already; an exception it throws propagates and nothing is stored.
   *
   * Names are 1–128 characters of `[A-Za-z0-9_.:-]`; values non-empty strings of at most
   * 4096 characters without NUL. INVALID_ARGUMENT otherwise (field `name` or `value`).
   */
  sharedSecret(name: string, generate: () => string): Promise<string>;
}
