// The server's REST API (see /openapi.json); every call rejects with the problem's detail.

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
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
