using System.Text.Json.Nodes;

namespace VSwitch.Common.Control;

/// <summary>
/// Carries out control requests for <see cref="ControlServer"/>. The ops and their fields are
/// described in docs/control-socket.md.
/// </summary>
/// <remarks>
/// Called concurrently for different connections, one call at a time per connection (a
/// connection's next request is read only after the reply to the previous one is written).
/// Never dispose the ControlServer from inside this call: disposal waits for in-flight requests,
/// this one included. For "shutdown", signal the daemon and return; the reply is still sent.
/// </remarks>
public interface IControlHandler
{
    /// <summary>
    /// Answers one request. The reply's fields are sent as they are, with "ok" and the request's
    /// "id" added by the server (fields of those names in the returned object are ignored).
    /// </summary>
    /// <param name="op">The request's "op" field; unknown ops are the handler's to reject.</param>
    /// <param name="request">The whole request, "op" and "id" included.</param>
    /// <param name="ct">Cancelled when the server is being disposed.</param>
    /// <exception cref="ControlException">For a bad request; the message becomes the reply's "error".</exception>
    ValueTask<JsonObject> HandleAsync(string op, JsonObject request, CancellationToken ct);
}
