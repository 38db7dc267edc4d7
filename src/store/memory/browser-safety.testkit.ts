/** Uses a Node global on purpose: browser-safety.test.ts must catch it. Never imported. */
export const bytes = Buffer.from("x");
