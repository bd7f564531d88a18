// Loading ahead: the next clip's videos (URLs from the server, which predicted that clip) are fetched
// into the browser's HTTP cache while the current clip is rated, one after the other at low priority,
// so the next clip's tiles play from the cache. The server answers them with an ETag and
// "private, no-cache": the next page revalidates (304, no body) instead of downloading again.

const done = new Set();

export async function prefetch(urls) {
  for (const url of urls) {
    if (done.has(url)) continue;
    done.add(url);
    try {
      const r = await fetch(url, { credentials: 'same-origin', priority: 'low' });
      if (r.ok) await r.arrayBuffer();  // read to the end: only a complete body is cached
    } catch (e) { /* an optimisation: the page loads the video itself if this fails */ }
  }
}
