// Talking to the server's REST API (see /openapi.json). Nothing here adds a key: the public
// pages use these as they are; the console's api.js adds the staff key of its tab.

/** An Error for a failed response, with its ``status`` and the problem's ``detail``. */
async function failure(url, response) {
  let detail = response.statusText;
  try {
    detail = (await response.json()).detail ?? detail;
  } catch {
    // not a problem+json body: keep the status text
  }
  return Object.assign(new Error(`${url}: ${response.status} ${detail}`), { status: response.status, detail });
}

/** ``fetch`` that resolves to the JSON body (null for 204) and rejects with the problem's detail. */
export async function fetchJSON(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { Accept: "application/json", ...(options.headers ?? {}) } });
  if (!response.ok) throw await failure(url, response);
  return response.status === 204 ? null : response.json();
}

export const getConfig = () => fetchJSON("/api/config");
export const listCities = async () => (await fetchJSON("/api/cities")).cities;
export const getCity = (id) => fetchJSON(`/api/cities/${encodeURIComponent(id)}`);
