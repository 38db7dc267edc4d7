/**
 * A fast-check generator of schema texts that are mostly well-formed but break the schema
 * rules now and then: unknown types, relations and caveats; usersets and arrows naming
 * members that do not exist, or that are permissions; arrows over relations that allow a
 * wildcard; wildcards reached through usersets; permissions that reach themselves; duplicate
 * names; names too short; `with expiration` and `self` without their `use` flags; caveats
 * with unknown parameter types or expressions that do not type-check. For comparing which
 * schemas Trellis and SpiceDB accept.
 */
import fc from "fast-check";

const TYPES = ["user", "group", "folder", "document"] as const;
const RELATIONS = ["member", "owner", "parent"] as const;
const PERMISSIONS = ["view", "edit", "manage"] as const;

/** Mostly `valid`, now and then `broken`: each schema should break one rule at most, often none. */
function mostly<T>(valid: fc.Arbitrary<T>, broken: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight: 25 }, { arbitrary: broken, weight: 1 });
}

const typeRef = mostly(fc.constantFrom(...TYPES), fc.constant("ghost"));
const memberRef = mostly(
  fc.constantFrom(...RELATIONS, ...PERMISSIONS),
  fc.constantFrom("unknown", "ab"),
);

const GOOD_CAVEATS = [
  { name: "over_three", params: "x int", expression: "x > 3" },
  { name: "either", params: "a bool, b bool", expression: "a || b" },
  { name: "listy", params: "l list<int>, n int", expression: "n in l" },
] as const;
const BAD_CAVEATS = [
  { name: "typo_param", params: "x int", expression: "y > 3" },
  { name: "not_bool", params: "x int", expression: "x + 1" },
  { name: "bad_type", params: "x strng", expression: "x == 1" },
] as const;
const caveatRef = mostly(
  fc.constantFrom(...GOOD_CAVEATS.map((c) => c.name)),
  fc.constantFrom(...BAD_CAVEATS.map((c) => c.name), "nowhere"),
);

const allowed = fc
  .record({
    type: typeRef,
    shape: fc.constantFrom("object", "object", "wildcard", "userset", "userset"),
    member: memberRef,
    caveat: fc.option(caveatRef, { freq: 3 }),
    expiration: fc.boolean(),
  })
  .map(({ type, shape, member, caveat, expiration }) => {
    let s = type;
    if (shape === "wildcard") s += ":*";
    if (shape === "userset") s += `#${member}`;
    const traits = [...(caveat === null ? [] : [caveat]), ...(expiration ? ["expiration"] : [])];
    return traits.length === 0 ? s : `${s} with ${traits.join(" and ")}`;
  });

const expression: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    memberRef,
    fc
      .record({
        tupleset: memberRef,
        target: memberRef,
        mode: fc.constantFrom("->", "any", "all"),
      })
      .map(({ tupleset, target, mode }) =>
        mode === "->" ? `${tupleset}->${target}` : `${tupleset}.${mode}(${target})`,
      ),
    fc.constantFrom("nil", "self"),
    fc
      .record({
        op: fc.constantFrom("+", "&", "-"),
        left: tie("expr"),
        right: tie("expr"),
      })
      .map(({ op, left, right }) => `(${left} ${op} ${right})`),
  ),
})).expr;

/** Relations and permissions by position; a name is now and then the wrong one (a duplicate). */
const definition = fc
  .record({
    relations: fc.array(
      fc.record({
        rename: mostly(fc.constant(undefined), fc.constantFrom("member", "ab", "view")),
        allowed: fc.array(allowed, { minLength: 1, maxLength: 3 }),
      }),
      { maxLength: RELATIONS.length },
    ),
    permissions: fc.array(
      fc.record({
        rename: mostly(fc.constant(undefined), fc.constantFrom("member", "view")),
        expr: expression,
      }),
      { maxLength: PERMISSIONS.length },
    ),
  })
  .map(({ relations, permissions }) => [
    ...relations.map((r, i) => `  relation ${r.rename ?? RELATIONS[i]}: ${r.allowed.join(" | ")}`),
    ...permissions.map((p, i) => `  permission ${p.rename ?? PERMISSIONS[i]} = ${p.expr}`),
  ]);

export const looseSchemaText: fc.Arbitrary<string> = fc
  .record({
    useExpiration: mostly(fc.constant(true), fc.constant(false)),
    useSelf: mostly(fc.constant(true), fc.constant(false)),
    caveats: fc.subarray([...GOOD_CAVEATS]),
    badCaveat: mostly(fc.constant(undefined), fc.constantFrom(...BAD_CAVEATS)),
    definitions: fc.array(definition, { minLength: 1, maxLength: TYPES.length - 1 }),
    userSelf: fc.boolean(),
  })
  .map(({ useExpiration, useSelf, caveats, badCaveat, definitions, userSelf }) => {
    const parts: string[] = [];
    const uses = [...(useExpiration ? ["use expiration"] : []), ...(useSelf ? ["use self"] : [])];
    if (uses.length > 0) parts.push(uses.join("\n"));
    for (const c of badCaveat === undefined ? caveats : [...caveats, badCaveat]) {
      parts.push(`caveat ${c.name}(${c.params}) { ${c.expression} }`);
    }
    parts.push(userSelf ? "definition user {\n  permission view = self\n}" : "definition user {}");
    definitions.forEach((lines, i) => {
      const name = TYPES[i + 1]!;
      parts.push(
        lines.length === 0
          ? `definition ${name} {}`
          : `definition ${name} {\n${lines.join("\n")}\n}`,
      );
    });
    return `${parts.join("\n\n")}\n`;
  });
