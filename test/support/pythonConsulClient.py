"""python3-consul (Debian's 0.7.x) against a Consul-compatible HTTP API: KV, agent, catalog,
health and sessions, as a user of that library would call them. argv: host port.
Prints one JSON object with what it saw; any exception fails the run (exit 1)."""
import json
import sys

import consul

host, port = sys.argv[1], int(sys.argv[2])
c = consul.Consul(host=host, port=port)
out = {}

# KV with CAS and flags
assert c.kv.put('py/a', 'one', flags=7) is True
index, entry = c.kv.get('py/a')
out['kv_get'] = {'Value': entry['Value'].decode(), 'Flags': entry['Flags'], 'index_is_modify': index == str(entry['ModifyIndex'])}
out['kv_cas_stale'] = c.kv.put('py/a', 'two', cas=entry['ModifyIndex'] + 1000)
out['kv_cas_ok'] = c.kv.put('py/a', 'two', cas=entry['ModifyIndex'])
c.kv.put('py/b', 'x')
_, entries = c.kv.get('py/', recurse=True)
out['kv_recurse'] = [e['Key'] for e in entries]
_, keys = c.kv.get('py/', keys=True)
out['kv_keys'] = keys
out['kv_missing'] = c.kv.get('py/none')[1]
out['kv_delete'] = c.kv.delete('py/', recurse=True)

# Agent and catalog
check = consul.Check.ttl('30s')
check['status'] = 'passing'
c.agent.service.register('pysvc', service_id='pysvc-1', address='10.1.1.1', port=9000, tags=['py'], check=check)
# python-consul 0.7 sends GET here; Consul 1.8 answers 405 and the library returns False.
out['ttl_pass_get'] = c.agent.check.ttl_pass('service:pysvc-1', 'from python')
out['agent_services'] = sorted(c.agent.services().keys())
out['agent_checks'] = {k: v['Status'] for k, v in c.agent.checks().items() if k.startswith('service:pysvc')}
out['agent_self_node'] = c.agent.self()['Config']['NodeName']
out['agent_members'] = [m['Name'] for m in c.agent.members()]
out['leader'] = bool(c.status.leader())
_, services = c.catalog.services()
out['catalog_services'] = services.get('pysvc')
_, nodes = c.catalog.nodes()
out['catalog_nodes'] = [n['Node'] for n in nodes]
_, node = c.catalog.node(out['agent_self_node'])
out['catalog_node_has_svc'] = 'pysvc-1' in node['Services']
_, svc = c.catalog.service('pysvc')
out['catalog_service'] = [(s['ServiceID'], s['ServiceAddress'], s['ServicePort']) for s in svc]

# Health
_, passing = c.health.service('pysvc', passing=True)
out['health_passing'] = [e['Service']['ID'] for e in passing]
_, checks = c.health.checks('pysvc')
out['health_checks'] = [(ch['CheckID'], ch['Status'], ch['Output']) for ch in checks]
_, state = c.health.state('passing')
out['health_state_has'] = any(ch['CheckID'] == 'service:pysvc-1' for ch in state)
_, hnode = c.health.node(out['agent_self_node'])
out['health_node'] = sorted(ch['CheckID'] for ch in hnode if ch['CheckID'] in ('serfHealth', 'service:pysvc-1'))

# Sessions and locks
sid = c.session.create(name='py-lock', ttl=30, lock_delay=0, behavior='release')
other = c.session.create(name='py-other')
out['session_info'] = {k: c.session.info(sid)[1][k] for k in ('Name', 'TTL', 'Behavior', 'LockDelay')}
out['session_list_has'] = any(s['ID'] == sid for s in c.session.list()[1])
out['session_node_has'] = any(s['ID'] == sid for s in c.session.node(out['agent_self_node'])[1])
out['acquire'] = c.kv.put('py/lock', 'me', acquire=sid)
out['acquire_other'] = c.kv.put('py/lock', 'them', acquire=other)
_, lock = c.kv.get('py/lock')
out['lock_entry'] = {'Session_is_sid': lock.get('Session') == sid, 'LockIndex': lock['LockIndex']}
out['renew_ttl'] = c.session.renew(sid)['TTL']
out['release'] = c.kv.put('py/lock', 'free', release=sid)
out['acquire_other_after'] = c.kv.put('py/lock', 'them', acquire=other)
out['destroy'] = c.session.destroy(sid)
out['info_after_destroy'] = c.session.info(sid)[1]
c.session.destroy(other)

# Also a GET in python-consul 0.7 (405 from Consul 1.8): the service stays.
out['deregister_get'] = c.agent.service.deregister('pysvc-1')
out['after_deregister'] = [s['ServiceID'] for s in c.catalog.service('pysvc')[1]]
print(json.dumps(out, sort_keys=True))
