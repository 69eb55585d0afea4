// Building DOM nodes: one small helper for every page of the viewer.

/** ``tag`` with ``props`` assigned and ``children`` appended (null and undefined children are skipped). */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}
