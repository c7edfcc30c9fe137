using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints.Pickle;

/// <summary>A storage a .pth pickle refers to by persistent id: the record <c>data/&lt;Key&gt;</c> in the zip.</summary>
internal sealed record StorageRef(string Key, ScalarType DType, string Location, long Numel);

/// <summary>A tensor as the pickle describes it (torch._utils._rebuild_tensor_v2): a strided view of a storage.
/// No data is read until the tensor is materialised.</summary>
internal sealed record PickledTensor(StorageRef Storage, long Offset, long[] Shape, long[] Stride);
