// The error type of checkpoint folders and their config.json. Pure module.

export type CheckpointErrorCode =
  | 'NOT_FOUND'            // the folder does not exist
  | 'NOT_A_DIRECTORY'      // the path is a file
  | 'NO_CONFIG'            // no config.json
  | 'BAD_CONFIG_JSON'      // config.json is not JSON, or not an object, or a bad __float__
  | 'NO_MODEL_TYPE'        // config.json has no string model_type
  | 'NO_WEIGHTS'           // neither model.safetensors nor model.safetensors.index.json
  | 'BAD_INDEX'            // the shard index is not JSON or not of the expected form
  | 'MISSING_SHARD'        // the index names a shard file that does not exist
  | 'SHARD_MISSING_TENSOR' // a shard lacks a tensor the index places in it
  | 'BAD_WEIGHTS'          // a safetensors file is invalid (the cause is a SafetensorsError)
  | 'TENSOR_NOT_FOUND'     // no tensor of that name in the checkpoint
  | 'WRITE_FAILED';        // writing a checkpoint failed

/** One problem with a checkpoint, in a one-line message that names the file. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';

  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
