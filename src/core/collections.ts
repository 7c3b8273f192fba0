/** `map.get(key).push(...values)`, creating the list on first use: appends in place, never copying. */
export function append<K, V>(map: Map<K, V[]>, key: K, ...values: V[]): void {
  const list = map.get(key);
  if (list) list.push(...values);
  else map.set(key, values);
}
