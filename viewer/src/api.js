// The console's calls to the REST API: the shared ones, with the staff key of this tab when one
// was entered (a session cookie goes anyway). The public pages use shared/http.js, never this.
import { fetchJSON } from "./shared/http.js";
import { signedIn } from "./signin.js";

export { getConfig, listCities, getCity } from "./shared/http.js";

const KEY_STORAGE = "twin.staffKey";

/** The staff key the flood panel keeps for this tab, if one was entered. */
export const staffKey = () => sessionStorage.getItem(KEY_STORAGE);

/** Whether this tab may call staff APIs: it holds a staff key or an operator is signed in. */
export const canActAsStaff = () => Boolean(staffKey()) || signedIn();

/** Remember (or, with an empty key, forget) the staff key for this tab. */
export const setStaffKey = (key) => (key ? sessionStorage.setItem(KEY_STORAGE, key) : sessionStorage.removeItem(KEY_STORAGE));

/** The Authorization header of the tab's staff key, or none. */
export const staffHeaders = () => {
  const key = staffKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
};

/** ``fetchJSON`` with the tab's staff key. */
export const api = (url, options = {}) => fetchJSON(url, { ...options, headers: { ...staffHeaders(), ...(options.headers ?? {}) } });

/** GET ``url`` as JSON with the tab's staff key. */
export const getJSON = (url) => api(url);

export const getBuilding = (cityId, gmlId) =>
  getJSON(`/api/cities/${encodeURIComponent(cityId)}/buildings/${encodeURIComponent(gmlId)}`);
