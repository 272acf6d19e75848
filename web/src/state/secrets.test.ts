import { describe, expect, it } from 'vitest';
import { SECRET_MASK, type HttpSpec, type Target } from '../api/model';
import { buildInput, formFromTarget, isSecretHeaderName, sendsMask, sentHeaderIndex } from './targetForm';

/** A saved HTTP target as the API returns it: secrets masked and marked. */
function savedTarget(spec: Partial<HttpSpec>): Target {
  return {
    id: 't1',
    name: 'api',
    kind: 'http',
    spec: { kind: 'http', url: 'https://api.example.com/', ...spec },
    interval_seconds: 60,
    timeout_seconds: 10,
    regions: ['default'],
    tags: [],
    failure_threshold: 3,
    success_threshold: 2,
    paused: false,
    created_at: '',
    updated_at: '',
    state: { status: 'up', since: '2026-01-01T00:00:00Z', last_checked_at: null, last_latency_ms: null },
    baseline: { enabled: null, factor: 3, min_increase_ms: 100, active: false },
  };
}

describe('secrets in the target form', () => {
  it('shows a masked header as an empty "unchanged" input and sends the mask back', () => {
    const f = formFromTarget(
      savedTarget({
        headers: [
          { name: 'X-Api-Key', value: SECRET_MASK, secret: true },
          { name: 'Accept', value: 'application/json' },
        ],
      }),
    );
    expect(f.http.headers[0]).toMatchObject({ value: '', masked: true, secret: true });
    expect(f.http.headers[1]).toEqual({ name: 'Accept', value: 'application/json' });

    const { input, errors } = buildInput(f);

    expect(errors).toEqual({});
    if (input.spec.kind !== 'http') throw new Error('http spec');
    expect(input.spec.headers).toEqual([
      { name: 'X-Api-Key', value: SECRET_MASK, secret: true },
      { name: 'Accept', value: 'application/json' },
    ]);
  });

  it('sends a typed value instead of the mask once the user replaces the secret', () => {
    const f = formFromTarget(savedTarget({ headers: [{ name: 'X-Api-Key', value: SECRET_MASK, secret: true }] }));
    f.http.headers[0]!.value = 'new-key';
    f.http.headers[0]!.masked = false;

    const { input } = buildInput(f);

    if (input.spec.kind !== 'http') throw new Error('http spec');
    expect(input.spec.headers).toEqual([{ name: 'X-Api-Key', value: 'new-key', secret: true }]);
    expect(JSON.stringify(input)).not.toContain(SECRET_MASK);
  });

  it('asks for the value again when a masked header is renamed', () => {
    const f = formFromTarget(
      savedTarget({
        headers: [
          { name: 'X-A', value: '1' },
          { name: 'X-Token', value: SECRET_MASK, secret: true },
        ],
      }),
    );
    f.http.headers.unshift({ name: '', value: 'blank row, not sent' });
    f.http.headers[2]!.name = 'X-Other';

    const { errors } = buildInput(f);

    expect(sentHeaderIndex(f.http.headers, 2)).toBe(1);
    expect(errors).toEqual({ 'spec.headers[1].value': { key: 'valid.secretRetype' } });
  });

  it('marks a header secret when the box is ticked', () => {
    const f = formFromTarget(savedTarget({}));
    f.http.headers = [{ name: 'X-Tenant', value: 'acme', secret: true }];
    const { input } = buildInput(f);
    if (input.spec.kind !== 'http') throw new Error('http spec');
    expect(input.spec.headers).toEqual([{ name: 'X-Tenant', value: 'acme', secret: true }]);
  });

  it('keeps a masked basic password and bearer token unless a new one is typed', () => {
    const basic = formFromTarget(savedTarget({ auth: { type: 'basic', username: 'u', password: SECRET_MASK, secret: true } }));
    expect(basic.http.password).toBe('');
    expect(basic.http.passwordMasked).toBe(true);
    expect(buildInput(basic).input.spec).toMatchObject({ auth: { type: 'basic', username: 'u', password: SECRET_MASK } });
    basic.http.password = 'fresh';
    basic.http.passwordMasked = false;
    expect(buildInput(basic).input.spec).toMatchObject({ auth: { type: 'basic', username: 'u', password: 'fresh' } });

    const bearer = formFromTarget(savedTarget({ auth: { type: 'bearer', token: SECRET_MASK, secret: true } }));
    const kept = buildInput(bearer);
    expect(kept.errors).toEqual({});
    expect(kept.input.spec).toMatchObject({ auth: { type: 'bearer', token: SECRET_MASK } });
    bearer.http.tokenMasked = false;
    expect(buildInput(bearer).errors['spec.auth.token']).toEqual({ key: 'valid.required' });
  });

  it('knows when a body still sends a stored secret back as the mask', () => {
    const f = formFromTarget(savedTarget({ headers: [{ name: 'X-Api-Key', value: SECRET_MASK, secret: true }] }));
    expect(sendsMask(buildInput(f).input)).toBe(true);
    f.http.headers[0]!.value = 'typed';
    f.http.headers[0]!.masked = false;
    expect(sendsMask(buildInput(f).input)).toBe(false);
    const bearer = formFromTarget(savedTarget({ auth: { type: 'bearer', token: SECRET_MASK, secret: true } }));
    expect(sendsMask(buildInput(bearer).input)).toBe(true);
  });

  it('knows the header names that are always secret', () => {
    for (const n of ['Authorization', 'cookie', 'Proxy-Authorization', 'X-Api-Key', 'x-auth-token', 'Client-Secret']) {
      expect(isSecretHeaderName(n), n).toBe(true);
    }
    for (const n of ['Accept', 'X-Request-Id', 'User-Agent']) expect(isSecretHeaderName(n), n).toBe(false);
  });
});
