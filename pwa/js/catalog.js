// The catalogue for offline use: GET /api/catalog, which the service worker answers from its
// cache and refreshes with the ETag in the background (stale-while-revalidate). Public data.

let loaded = null;

/** The catalogue {version, items, calendar, known_years}, or null when never fetched. */
export async function loadCatalogue() {
  if (!loaded) {
    loaded = fetch("/api/catalog", { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null);
    loaded.then((value) => value || (loaded = null)); // try again next time
  }
  return loaded;
}

export function itemById(catalogue, id) {
  return catalogue.items.find((item) => String(item.id) === String(id)) || null;
}

// server/calendar/rules.py UNIT_NAMES
export const UNITS = { working_days: "工作日", calendar_days: "自然日", working_hours: "工作小时" };

export function limitText([amount, unit]) {
  return amount === 0 ? "当场办结" : `${amount} 个${UNITS[unit] || unit}`;
}
