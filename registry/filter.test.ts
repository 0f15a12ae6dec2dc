import { describe, expect, it } from 'vitest';
import { CHECK_SERVICE_NODE_FIELDS, compileFilter, FilterError, HEALTH_CHECK_FIELDS } from './filter';

const entry = {
  Node: { ID: 'n', Node: 'node-1', Address: '127.0.0.1', Datacenter: 'dc1', TaggedAddresses: {}, Meta: { rack: 'r1' } },
  Service: { ID: 'web-1', Service: 'web', Tags: ['blue', 'v1'], Meta: { color: 'blue' }, Port: 8080, Address: '', EnableTagOverride: false, Weights: { Passing: 1, Warning: 1 } },
  Checks: [{ CheckID: 'serfHealth', Status: 'passing', ServiceTags: [] }, { CheckID: 'web-1-ttl', Status: 'critical', ServiceTags: ['blue'] }],
};
const run = (expr: string) => compileFilter(expr, CHECK_SERVICE_NODE_FIELDS)(entry);
const error = (expr: string, fields = CHECK_SERVICE_NODE_FIELDS) => {
  try {
    compileFilter(expr, fields);
  } catch (err) {
    if (err instanceof FilterError) return err.message;
    throw err;
  }
  return null;
};

describe('?filter= (go-bexpr 0.1.2 as Consul 1.8.7 answers it)', () => {
  it('evaluates every operator, with any-element semantics through lists and missing-key rules for maps', () => {
    expect(run('Service.Meta.color == "blue"')).toBe(true);
    expect(run('Service.Meta.color != blue')).toBe(false);
    expect(run('"v1" in Service.Tags and Service.Tags contains blue')).toBe(true);
    expect(run('"we" in Service.Service')).toBe(true);
    expect(run('"color" in Service.Meta and "x" not in Service.Meta')).toBe(true);
    expect(run('Service.ID matches "^web-[0-9]$" and Service.ID not matches "^api"')).toBe(true);
    expect(run('Checks.Status == critical and Checks.Status == passing')).toBe(true);
    expect(run('Checks.Status != passing')).toBe(true);
    expect(run('Service.Tags is not empty and Node.TaggedAddresses is empty')).toBe(true);
    expect(run('Service.Port == 8080 and Service.Port != 8081')).toBe(true);
    expect(run('Service.EnableTagOverride == false and Service.Weights.Passing == 1')).toBe(true);
    // A missing map key: ==, in, is-not-empty are false; everything else is true.
    expect(run('Service.Meta.nope == ""')).toBe(false);
    expect(run('Service.Meta.nope != "x" and Service.Meta.nope matches "x" and Service.Meta.nope not matches "x"')).toBe(true);
    expect(run('not (Service.Port == 8080) or (Node.Meta["rack"] == r1)')).toBe(true);
    expect(run('not not Service.Port == 8080')).toBe(true);
  });

  it('answers a bad expression with Consul’s own text', () => {
    expect(error('Foo == 1')).toBe('Selector "Foo" is not valid');
    expect(error('Service.Port == "abc"')).toBe('Failed to coerce value "abc" for selector "Service.Port": strconv.ParseInt: parsing "abc": invalid syntax');
    expect(error('Service.Port ==')).toBe('1:16 (15): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]');
    expect(error('(Service.Port == 80')).toBe('1:20 (19): rule "grouping": Unmatched parentheses');
    expect(error('Service.Tags contains "a" and')).toBe('1:30 (29): no match found, expected: [ \\t\\r\\n]');
    expect(error('Service.Port == 80 foo')).toBe('1:20 (19): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF');
    expect(error('Service.Port matches "8"')).toBe('Invalid match operator "Matches" for selector "Service.Port"');
    expect(error('Service.ID matches "["')).toBe('Failed to compile regular expression "[": error parsing regexp: missing closing ]: `[`');
    expect(error('Service.Meta.x is empty')).toBe('Invalid match operator "Is Empty" for selector "Service.Meta.x"');
    expect(error('   ')).toBe('1:4 (3): no match found, expected: "(", "-", "0", "\\"", "`", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]');
    expect(error('Service.Port < 3')).toBe('1:14 (13): no match found, expected: "!=", "==", "contains", "in", "is", "matches", "not" or [ \\t\\r\\n]');
    expect(error('Service.Port == 0x50')).toBe('1:18 (17): rule "number": Invalid number literal');
    expect(error('Service.Weights == 1')).toBe('Invalid match operator "Equal" for selector "Service.Weights"');
    expect(error('CheckId == "x"', HEALTH_CHECK_FIELDS)).toBe('Selector "CheckId" is not valid');
  });
});
