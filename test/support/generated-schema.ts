/** A large realistic schema: a chain of 200 resource types, each pointing at the previous. */
export function generatedSchema(n: number): string {
  const parts = [
    "use expiration",
    'caveat is_weekday(day string) { day != "saturday" && day != "sunday" }',
    "definition user {}",
  ];
  for (let i = 0; i < n; i++) {
    const parent = i === 0 ? "" : `\n  relation parent: res${i - 1}`;
    const inherited = i === 0 ? "" : " + parent->view";
    parts.push(`/** resource type ${i} */
definition res${i} {${parent}
  relation owner: user
  relation editor: user | user with is_weekday | res${i}#owner
  relation viewer: user | user:* | user with expiration
  relation banned: user
  permission edit = owner + editor${i === 0 ? "" : " + parent->edit"}
  permission view = (viewer + edit${inherited}) - banned
  permission admin = owner & edit${i === 0 ? "" : " & parent.all(edit)"}
}`);
  }
  return parts.join("\n\n");
}
