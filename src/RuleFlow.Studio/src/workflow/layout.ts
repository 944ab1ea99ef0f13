import { Graph, layout } from '@dagrejs/dagre';
import type { WorkflowGraph } from './model';

export const NODE_W = 190;
export const NODE_H = 58;

/** Positions (top-left corners) of the graph's nodes, laid out top to bottom by dagre (Sugiyama layering). */
export function layoutGraph(graph: WorkflowGraph): Map<string, { x: number; y: number }> {
  const g = new Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 46, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { width: n.type === 'compensation' ? NODE_W - 20 : NODE_W, height: n.type === 'compensation' ? 40 : NODE_H });
  for (const e of graph.edges) g.setEdge(e.source, e.target, { minlen: 1, weight: e.kind === 'compensation' ? 0.2 : e.kind === 'next' ? 4 : 1 });
  layout(g);
  const out = new Map<string, { x: number; y: number }>();
  for (const n of graph.nodes) {
    const p = g.node(n.id) as unknown as { x: number; y: number; width: number; height: number };
    out.set(n.id, { x: p.x - p.width / 2, y: p.y - p.height / 2 });
  }
  return out;
}
