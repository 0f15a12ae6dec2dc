import { describe, expect, it, vi } from 'vitest';
import { ConsulLeaderElector } from './leaderElection';

/** A registry without sessions answers 404 (Consul's wording for an unknown endpoint). */
const noSessions: typeof fetch = async () => new Response('', { status: 404 });

describe('ConsulLeaderElector', () => {
  it('falls back to single-replica, acting alone and saying why, when the registry has no sessions', async () => {
    const elector = new ConsulLeaderElector({ address: 'http://registry', token: null, identity: 'replica-a', fetch: noSessions });
    expect(elector.isLeader()).toBe(false);
    elector.start();
    await vi.waitFor(() => expect(elector.status().mode).toBe('single-replica'));
    expect(elector.isLeader()).toBe(true);
    expect(elector.status().detail).toContain('PUT /v1/session/create answered 404');
    await elector.stop();
  });

  it('does not act while the registry cannot be reached', async () => {
    const down: typeof fetch = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    const elector = new ConsulLeaderElector({ address: 'http://registry', token: null, identity: 'replica-a', fetch: down });
    elector.start();
    await vi.waitFor(() => expect(elector.status().detail).toContain('ECONNREFUSED'));
    expect(elector.isLeader()).toBe(false);
    await elector.stop();
  });
});
