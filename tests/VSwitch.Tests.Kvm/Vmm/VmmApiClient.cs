using System.Text.Json;
using System.Text.Json.Nodes;
using VSwitch.Common.Control;

namespace VSwitch.Tests.Kvm.Vmm;

/// <summary>The daemons' shared control client, each call bounded so that a VMM that never answers fails the test instead of hanging the lane.</summary>
public sealed class VmmApiClient(string path) : IDisposable
{
    private static readonly TimeSpan ReplyLimit = TimeSpan.FromSeconds(60);
    private readonly ControlClient _client = ControlClient.ConnectAsync(path).WaitAsync(ReplyLimit).GetAwaiter().GetResult();

    public JsonElement Call(string request)
    {
        JsonObject reply = _client.RequestRawAsync(JsonNode.Parse(request)!.AsObject()).WaitAsync(ReplyLimit).GetAwaiter().GetResult();
        return JsonDocument.Parse(reply.ToJsonString()).RootElement.Clone();
    }

    public void Dispose() => _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
