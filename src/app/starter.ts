/**
 * The seam between the trigger handlers and Durable Functions: the handlers only start
 * orchestrations and read their status. In Azure that is `df.getClient(context)`; locally
 * (blob2pg run / watch, tests) it is the in-process runtime in src/local/durable.ts.
 */
import * as df from 'durable-functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended' | 'Unknown';

export interface InstanceStatus {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  customStatus?: unknown;
  output?: unknown;
  createdTime?: string;
  lastUpdatedTime?: string;
}

/** The durable management URLs returned with 202 Accepted (same shape as createHttpManagementPayload). */
export interface ManagementUrls {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
  [other: string]: string;
}

export interface DurableStarter {
  startNew(orchestrator: string, options: { instanceId?: string; input?: unknown }): Promise<string>;
  /** undefined when no such instance exists. */
  getStatus(instanceId: string): Promise<InstanceStatus | undefined>;
  managementUrls(request: HttpRequest | undefined, instanceId: string): ManagementUrls;
}

export function isActive(status: InstanceStatus | undefined): boolean {
  return status !== undefined && ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'].includes(status.runtimeStatus);
}

type StarterFactory = (context: InvocationContext) => DurableStarter;

/** Production: the durable client binding of the function. */
function durableClientStarter(context: InvocationContext): DurableStarter {
  const client = df.getClient(context);
  return {
    startNew: (orchestrator, options) => client.startNew(orchestrator, options),
    async getStatus(instanceId) {
      let status: df.DurableOrchestrationStatus | undefined;
      try {
        status = await client.getStatus(instanceId);
      } catch (err) {
        // The client reports a missing instance as 404.
        if (/404|not found/i.test((err as Error).message)) return undefined;
        throw err;
      }
      if (!status?.runtimeStatus) return undefined;
      return {
        instanceId,
        name: status.name,
        runtimeStatus: status.runtimeStatus as RuntimeStatus,
        customStatus: status.customStatus,
        output: status.output,
        createdTime: new Date(status.createdTime).toISOString(),
        lastUpdatedTime: new Date(status.lastUpdatedTime).toISOString(),
      };
    },
    managementUrls: (_request, instanceId) => client.createHttpManagementPayload(instanceId) as unknown as ManagementUrls,
  };
}

let factory: StarterFactory = durableClientStarter;

export function starterFor(context: InvocationContext): DurableStarter {
  return factory(context);
}

/** The local runtime installs itself here; pass undefined to restore the durable client. */
export function setStarterFactory(next: StarterFactory | undefined): void {
  factory = next ?? durableClientStarter;
}
