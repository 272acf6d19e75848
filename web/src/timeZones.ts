// IANA time zones as this browser knows them (`Intl`): the visitor's own, every known name for
// a time zone input's suggestions, and a typed name in its canonical spelling.

/** The browser's time zone (`UTC` when it cannot say). */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** The IANA zones this browser knows, for a time zone input's suggestions. */
export function knownTimeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  try {
    return intl.supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
}

/**
 * `tz` as the browser spells it when it knows the zone under another case (`europe/moscow` →
 * `Europe/Moscow`: the backend reads names case-sensitively); null when the browser does not
 * know the zone. An alias keeps its own name.
 */
export function canonicalTimeZone(tz: string): string | null {
  if (!tz) return null;
  try {
    const resolved = new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === tz.toLowerCase() ? resolved : tz;
  } catch {
    return null;
  }
}
