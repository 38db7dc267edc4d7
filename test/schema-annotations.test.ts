// Type annotations and partials on random valid worlds (test/support/random-schema.ts): Trellis
// accepts an annotated schema under `use typechecking` exactly when every annotation names all
// the types its permission reaches, as computed apart from the compiler; and the newer syntax
// (annotations, typechecking, partials) never changes what a schema compiles to.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { SchemaError } from "../src/core/errors.js";
import { compileSchemaText } from "../src/schema/compiler.js";
import { fuzzRuns, propertyParameters } from "./support/property-runs.js";
import {
  annotated,
  annotationChoices,
  buildSchema,
  printSchema,
  schemaSeed,
} from "./support/random-schema.js";

const runs = fuzzRuns(300);

describe("type annotations on random worlds", () => {
  test("are accepted exactly when complete, and refused at the incomplete one", () => {
    const outcomes = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(schemaSeed, annotationChoices, (seed, choices) => {
        const { model, complete } = annotated(buildSchema(seed), choices);
        const text = printSchema(model);
        let refusal: SchemaError | undefined;
        try {
          compileSchemaText(text);
        } catch (err) {
          if (!(err instanceof SchemaError)) throw err;
          refusal = err;
        }
        outcomes[refusal === undefined ? "accepted" : "refused"]++;
        expect(refusal === undefined, `${text}\n${refusal?.message ?? "accepted"}`).toBe(complete);
        for (const d of refusal?.diagnostics ?? []) {
          expect(d.message).toMatch(/^incomplete type annotation/);
          expect(text.split("\n")[d.position.line - 1]).toMatch(/^\s*permission \w+: /);
        }
      }),
      propertyParameters(runs),
    );
    expect(outcomes.accepted).toBeGreaterThan(runs / 10);
    expect(outcomes.refused).toBeGreaterThan(runs / 10);
  });

  test("annotations, typechecking and partials compile to what the plain schema compiles to", () => {
    fc.assert(
      fc.property(schemaSeed, (seed) => {
        const model = buildSchema(seed);
        const plain = {
          ...model,
          useTypechecking: false,
          usePartials: false,
          annotations: new Map<string, string[]>(),
        };
        const newer = compileSchemaText(printSchema(model));
        const older = compileSchemaText(printSchema(plain));
        expect([...newer.definitions]).toEqual([...older.definitions]);
      }),
      propertyParameters(runs),
    );
  });
});
