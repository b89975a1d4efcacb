// The labs' one error type: which stage failed (topology data, building namespaces, bringing an
// example up, missing kernel or tool support, the tunnel) and a message without secrets.
export type LabErrorCode =
  | 'LAB_TOPOLOGY' // the topology data is inconsistent
  | 'LAB_BUILD' // a namespace, link, address or route could not be made
  | 'LAB_EXAMPLE' // an example config cannot be brought up in the lab
  | 'LAB_UNSUPPORTED' // the kernel or tools lack something the lab needs
  | 'LAB_TUNNEL'; // installing or starting the tunnel failed

export class LabError extends Error {
  readonly code: LabErrorCode;
  constructor(code: LabErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'LabError';
  }
}
