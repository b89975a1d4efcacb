// A small expiring LRU map for revocation answers: entries leave at their expiry time (a CRL's or
// OCSP response's nextUpdate) or when the map is full (least recently used first), so a stream of
// peers can never grow it without bound.
export class ExpiringLru<V> {
  readonly #map = new Map<string, { value: V; until: number }>();
  constructor(readonly capacity: number) {}

  get(key: string, now: number): V | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    this.#map.delete(key);
    if (e.until <= now) return undefined;
    this.#map.set(key, e);
    return e.value;
  }

  set(key: string, value: V, until: number): void {
    this.#map.delete(key);
    this.#map.set(key, { value, until });
    while (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value!);
  }

  get size(): number {
    return this.#map.size;
  }

  clear(): void {
    this.#map.clear();
  }
}
