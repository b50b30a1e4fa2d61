import type Provider from 'oidc-provider';

type ClientClass = Provider['Client'];
type ClientInstance = NonNullable<Awaited<ReturnType<ClientClass['find']>>>;

/**
 * oidc-provider's `Client.find` hashes (SHA-256 of the JSON) an adapter-backed client's metadata
 * on every lookup, to find the instance it built from equal metadata (lib/models/client.js,
 * `static async find`): on every token and introspection request. Our client adapter
 * (clients.ts) hands back the very same metadata object until the client changes or its cache
 * entry expires, so the instance is remembered by that object instead; metadata read afresh is a
 * new object and goes through oidc-provider's own lookup (and its validation) again.
 */
export function rememberClientInstances(provider: Provider): void {
  const Client = provider.Client as ClientClass & { adapter: { find(id: string): Promise<unknown> } };
  const find = Client.find.bind(Client);
  const built = new WeakMap<object, ClientInstance>();
  Client.find = async (id: string) => {
    const metadata = typeof id === 'string' && id !== '' ? await Client.adapter.find(id) : undefined;
    if (metadata === null || typeof metadata !== 'object') return find(id);
    const known = built.get(metadata);
    if (known) return known;
    const client = await find(id);
    if (client) built.set(metadata, client);
    return client;
  };
}
