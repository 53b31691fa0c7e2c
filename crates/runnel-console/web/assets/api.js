// The admin listener's JSON API: every request the console makes goes through here.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const REQUEST_TIMEOUT_MS = 10000;

async function request(method, path, body, signal) {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const init = {
    method,
    headers: { Accept: 'application/json' },
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError' && signal?.aborted) throw e;
    throw new ApiError(0, `Cannot reach the broker's admin listener (${e.message})`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new ApiError(res.status, `${path}: the answer is not JSON`);
  }
  if (!res.ok) {
    const message = data?.error ?? `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message);
  }
  return data;
}

const seg = encodeURIComponent;

export const api = {
  cluster: (signal) => request('GET', 'api/cluster', undefined, signal),
  topics: (signal) => request('GET', 'api/topics', undefined, signal),
  topic: (name, signal) => request('GET', `api/topics/${seg(name)}`, undefined, signal),
  messages: (name, query, signal) =>
    request('GET', `api/topics/${seg(name)}/messages?${new URLSearchParams(query)}`, undefined, signal),
  groups: (signal) => request('GET', 'api/groups', undefined, signal),
  group: (id, signal) => request('GET', `api/groups/${seg(id)}`, undefined, signal),
  groupLag: (id, signal) => request('GET', `api/groups/${seg(id)}/lag`, undefined, signal),
  groupHistory: (id, signal) => request('GET', `api/groups/${seg(id)}/history`, undefined, signal),
  resetOffsets: (id, body, signal) => request('POST', `api/groups/${seg(id)}/reset-offsets`, body, signal),
};
