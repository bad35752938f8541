// One refresh for a burst of triggers: ``coalesced(fn, ms)`` returns a trigger that runs ``fn``
// once, ``ms`` after the first trigger of a burst, and once more after it if triggered while it
// ran; never two at a time. A thousand events in a second cost a few requests, not a thousand.

export function coalesced(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;

  async function run() {
    timer = null;
    running = true;
    try { await fn(); } finally {
      running = false;
      if (again) { again = false; trigger(); }
    }
  }

  function trigger() {
    if (running) { again = true; return; }
    if (!timer) timer = setTimeout(run, ms);
  }

  trigger.cancel = () => { clearTimeout(timer); timer = null; again = false; };
  return trigger;
}
