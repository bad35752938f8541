// Named places of a page where a module puts its part: an element with data-region="name".
// A feature module mounts into a region instead of reaching for ids it does not own.

export function region(name) {
  const node = document.querySelector(`[data-region="${CSS.escape(name)}"]`);
  if (!node) throw new Error(`no region "${name}" on this page`);
  return node;
}

export function mount(name, node) {
  region(name).append(node);
  return node;
}
