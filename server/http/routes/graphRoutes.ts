/**
 * The service graph over REST: the graph for a window (tools, and the page's first paint before
 * the WebSocket answers) and the calls between two nodes (the edge panel).
 */
import { z } from 'zod';
import { GraphEdge, GraphEdgeDetail, GraphNode, GraphWindow, ObservedCalls } from '../../../protocol/graph';
import type { GraphService } from '../../graph/graphService';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';

const GraphResponse = z.object({ window: GraphWindow, version: z.number().int(), nodes: z.array(GraphNode), edges: z.array(GraphEdge) });

function windowOf(query: URLSearchParams): GraphWindow {
  const raw = query.get('window') ?? '5m';
  const parsed = GraphWindow.safeParse(raw);
  if (!parsed.success) throw new HttpError('bad_request', `window: expected one of ${GraphWindow.options.join(', ')}, got "${raw}"`);
  return parsed.data;
}

function required(query: URLSearchParams, name: string): string {
  const v = query.get(name);
  if (!v) throw new HttpError('bad_request', `${name}: required`);
  if (v.length > 1024) throw new HttpError('bad_request', `${name}: longer than 1024 characters`);
  return v;
}

export function graphRoutes(graph: GraphService): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/api\/graph$/,
      permission: 'topology:read',
      handler: ({ res, query }) => {
        const window = windowOf(query);
        // A one-off read: watch just long enough to build the window once.
        const release = graph.watch(window);
        try {
          reply(res, 200, GraphResponse, graph.snapshot(window));
        } finally {
          release();
        }
      },
    },
    {
      method: 'GET',
      path: /^\/api\/graph\/observed$/,
      permission: 'topology:read',
      handler: ({ res, query }) => {
        const window = windowOf(query);
        reply(res, 200, ObservedCalls, { window, observed: graph.observedCalls(window) });
      },
    },
    {
      method: 'GET',
      path: /^\/api\/graph\/edge$/,
      permission: 'topology:read',
      handler: ({ res, query }) => {
        reply(res, 200, GraphEdgeDetail, graph.edgeDetail(required(query, 'caller'), required(query, 'callee'), windowOf(query)));
      },
    },
  ];
}
