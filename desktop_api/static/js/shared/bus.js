// A small event bus: the socket's messages and a page's own events ("desk.login", ...) go to
// every module that subscribed, in the order they subscribed. A failing listener is reported
// and does not stop the others.

export function createBus(onListenerError) {
  const listeners = new Map();  // type -> Set of functions

  function on(type, fn) {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(fn);
    return () => listeners.get(type).delete(fn);
  }

  function emit(type, payload) {
    for (const fn of [...(listeners.get(type) || [])]) {
      try { fn(payload); } catch (exc) {
        console.error('listener of', type, 'failed', exc);
        if (onListenerError) onListenerError(exc, type);
      }
    }
  }

  return {on, emit};
}
