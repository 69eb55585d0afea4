// The server's REST API (see /openapi.json); every call rejects with the problem's detail.

const KEY_STORAGE = "twin.staffKey";

/** The staff key the flood panel keeps for this tab, if one was entered. */
export const staffKey = () => sessionStorage.getItem(KEY_STORAGE);

/** GET ``url`` as JSON (with the tab's staff key when there is one; a session cookie goes anyway). */
export async function getJSON(url) {
  const key = staffKey();
  const headers = { Accept: "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) };
  const response = await fetch(url, { headers });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not a problem+json body: keep the status text
    }
    throw new Error(`${url}: ${response.status} ${detail}`);
  }
  return response.json();
}

export const getConfig = () => getJSON("/api/config");
export const listCities = async () => (await getJSON("/api/cities")).cities;
export const getCity = (id) => getJSON(`/api/cities/${encodeURIComponent(id)}`);
export const getBuilding = (cityId, gmlId) =>
  getJSON(`/api/cities/${encodeURIComponent(cityId)}/buildings/${encodeURIComponent(gmlId)}`);
