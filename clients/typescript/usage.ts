// Type-checked in CI: the generated types describe what the server sends.
import type { AgentInfo, ServerMessage, TaskRecord, TaskUpdate } from "./devskyy-ws";

export function describe(message: ServerMessage): string {
  switch (message.type) {
    case "task_update":
      return `${message.task_id} ${message.status} ${message.progress.toFixed(0)}%`;
    case "agent_status_update":
      return `${message.agent_id} ${message.status}`;
    case "metrics_update":
      return `cpu ${message.metrics.cpu_percent}`;
    default:
      return message.type;
  }
}

export const example: TaskUpdate = {
  type: "task_update",
  task_id: "task-abc123",
  status: "running",
  progress: 45.0,
  data: { agent_id: "commerce-001", agent_type: "commerce" },
  timestamp: "2024-01-06T12:00:00Z",
};

export function stats(agent: AgentInfo): number {
  return agent.stats.tasksCompleted * agent.stats.successRate;
}

export function latency(task: TaskRecord): number | null {
  return task.metrics.latencyMs;
}
