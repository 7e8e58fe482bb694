// A view's list loads that never show what was read before one of the
// view's own writes was committed, nor an older answer over a newer
// request. The bell (notifications.js) does the same with pages.
//
//   const loads = freshLoads(async (current) => {
//     const data = await api('GET', ...);
//     if (!current()) return; // read around a write, or another load was asked for: not shown
//     ...show data...
//   });
//   loads.load();                                  // Refresh, a filter, the first load
//   await loads.write(api('PATCH', ...));          // a change the list shows
//
// A load asked for while one is out is made after it, and the one out is
// not shown. A load during which a write began or ended, or that lands
// while a write is out, is not shown either: it is made again once no write
// is out (the server has them all by then).

export function freshLoads(fetchAndShow) {
  let writes = 0;
  let pending = 0;
  let out = false;
  let again = false;

  async function load() {
    if (out) {
      again = true;
      return;
    }
    out = true;
    again = false;
    const mark = writes;
    let shown = true;
    const current = () => {
      shown = !again && writes === mark && pending === 0;
      return shown;
    };
    try {
      await fetchAndShow(current);
    } finally {
      out = false;
      if (!shown) again = true;
      if (again && pending === 0) load();
    }
  }

  /** Tracks a write (a promise) the list shows; its answer is the promise's. */
  async function write(promise) {
    writes += 1;
    pending += 1;
    try {
      return await promise;
    } finally {
      writes += 1;
      pending -= 1;
      if (pending === 0 && again && !out) load();
    }
  }

  return { load, write };
}
