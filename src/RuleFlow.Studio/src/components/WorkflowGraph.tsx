import { useCallback, useEffect, useMemo, useRef } from 'react';
import { Background, Controls, Handle, MarkerType, Position, ReactFlow, type Edge, type Node, type NodeChange, type NodeProps, useReactFlow } from '@xyflow/react';
import type { WorkflowGraph as Model } from '../workflow/model';
import { layoutGraph } from '../workflow/layout';

export type StepStatus = 'started' | 'running' | 'waiting' | 'completed' | 'failed' | 'compensated' | 'rejected' | 'compensating';

interface StepData extends Record<string, unknown> {
  label: string; kind: string; compensation: boolean; status?: string; problems?: number; selected?: boolean;
}

const KIND_ICON: Record<string, string> = {
  validate: '✓', approval: '⚑', script: '{}', publish: '➚', http: '⇄', delay: '◷', wait_until: '◴', wait_for_event: '⧗',
  if: '◇', switch: '⋔', parallel: '‖', foreach: '↻', call: '↪', set: '=', fail: '✕',
};

function StepNode({ data }: NodeProps<Node<StepData>>) {
  const d = data;
  return (
    <div className={`node ${d.compensation ? 'compensation' : 'step'} ${d.status ? `status-${d.status}` : ''} ${d.problems ? 'has-problems' : ''}`}
      data-testid={`node-${d.label}`} data-status={d.status ?? ''}>
      <Handle type="target" position={Position.Top} />
      {d.compensation ? (
        <div className="node-title"><span aria-hidden>↶</span> {d.label}</div>
      ) : (
        <>
          <div className="node-title"><span className="kind-icon" aria-hidden>{KIND_ICON[d.kind] ?? '•'}</span> {d.label}</div>
          <div className="node-meta">
            <span className="kind">{d.kind}</span>
            {d.status && <span className={`badge st-${d.status}`}>{d.status}</span>}
            {!!d.problems && <span className="badge err" title={`${d.problems} problem(s)`}>⚠ {d.problems}</span>}
          </div>
        </>
      )}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

const nodeTypes = { step: StepNode };

/** Fits the view again when steps come or go (not on every property edit, which would make the view jump). */
function FitOnChange({ shape }: { shape: string }) {
  const flow = useReactFlow();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    const t = setTimeout(() => { void flow.fitView({ maxZoom: 1, duration: 150 }); }, 30);
    return () => clearTimeout(t);
  }, [shape, flow]);
  return null;
}

export function WorkflowGraph({ graph, statuses, problems, selected, onSelect, label }: {
  graph: Model;
  statuses?: Record<string, string>;
  problems?: Record<string, number>;
  selected?: string;
  onSelect?: (stepId: string) => void;
  label: string;
}) {
  const positions = useMemo(() => layoutGraph(graph), [graph]);
  // Stable handlers that report only a real change (a handler that set state on every call could loop with React Flow).
  const selectRef = useRef(onSelect);
  selectRef.current = onSelect;
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const pick = useCallback((nodeId: string) => {
    const stepId = nodeId.split('::')[0];
    if (stepId !== selectedRef.current) selectRef.current?.(stepId);
  }, []);
  // The nodes are controlled (derived from the model): selection by click or by keyboard (Enter/Space on a focused node)
  // arrives as a 'select' change, which becomes the designer's selection.
  const onNodesChange = useCallback((changes: NodeChange[]) => {
    for (const c of changes) if (c.type === 'select' && c.selected) pick(c.id);
  }, [pick]);
  const onNodeClick = useCallback((_: unknown, n: Node) => pick(n.id), [pick]);
  const nodes: Node<StepData>[] = useMemo(() => graph.nodes.map(n => ({
    id: n.id,
    type: 'step',
    position: positions.get(n.id) ?? { x: 0, y: 0 },
    selected: selected === n.stepId && n.type === 'step',
    ariaLabel: n.type === 'compensation' ? n.label : `step ${n.stepId}, ${n.kind}${statuses?.[n.stepId] ? ', ' + statuses[n.stepId] : ''}`,
    data: {
      label: n.type === 'compensation' ? n.label : n.stepId, kind: n.kind, compensation: n.type === 'compensation',
      status: n.type === 'step' ? statuses?.[n.stepId] : (statuses?.[n.stepId] === 'compensated' ? 'compensated' : undefined),
      problems: n.type === 'step' ? problems?.[n.stepId] : undefined,
    },
    draggable: false,
    connectable: false,
  })), [graph, positions, statuses, problems, selected]);
  const edges: Edge[] = useMemo(() => graph.edges.map(e => ({
    id: e.id, source: e.source, target: e.target, label: e.label,
    className: `edge-${e.kind}`,
    type: e.kind === 'compensation' ? 'straight' : 'smoothstep',
    style: e.kind === 'compensation' ? { stroke: '#c2410c', strokeDasharray: '6 4', strokeWidth: 2 } : { stroke: '#475569', strokeWidth: 1.5 },
    markerEnd: { type: MarkerType.ArrowClosed, color: e.kind === 'compensation' ? '#c2410c' : '#475569' },
    labelStyle: { fontSize: 11 },
    ariaLabel: `${e.kind} from ${e.source} to ${e.target}`,
  })), [graph]);
  return (
    <div className="graph" role="region" aria-label={label}>
      <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} fitView fitViewOptions={{ maxZoom: 1 }} minZoom={0.2} proOptions={{ hideAttribution: true }}
        nodesDraggable={false} nodesConnectable={false}
        onNodeClick={onNodeClick} onNodesChange={onNodesChange}>
        <FitOnChange shape={graph.nodes.map(n => n.id).join('|')} />
        <Background gap={16} />
        <Controls showInteractive={false} />
      </ReactFlow>
      <ul className="legend" aria-label="Legend">
        <li><span className="swatch seq" /> next / branch</li>
        <li><span className="swatch comp" /> compensation</li>
      </ul>
    </div>
  );
}
