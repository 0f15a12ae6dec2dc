import { registryContract } from '../contract/registryContract';
import { startConsulAgent } from '../support/consulAgent';

registryContract('real Consul 1.8.7', async () => {
  const agent = await startConsulAgent({ datacenter: 'dc1' });
  return { httpAddr: agent.httpAddr, stop: () => agent.stop() };
});
