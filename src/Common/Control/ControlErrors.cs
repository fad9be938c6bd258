// The control socket's exceptions, one per side of the wire: handlers throw ControlException,
// clients see ControlRequestFailedException when the server said no, and
// ControlProtocolException when the bytes themselves were wrong.
using System.Text.Json.Nodes;

namespace VSwitch.Common.Control;

/// <summary>
/// Thrown by an <see cref="IControlHandler"/> for a request it refuses (unknown op, missing or
/// invalid field, conflict with the current spec). The message goes to the client verbatim as
/// the reply's "error", so it should name the field and the value that is wrong.
/// </summary>
public class ControlException : Exception
{
    public ControlException(string message) : base(message) { }

    public ControlException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The server answered {"ok": false}; <see cref="Exception.Message"/> is its "error" text.</summary>
public sealed class ControlRequestFailedException(string error, JsonObject reply) : Exception(error)
{
    /// <summary>The server's error text.</summary>
    public string Error { get; } = error;

    /// <summary>The whole reply, including "ok", "id" and "error".</summary>
    public JsonObject Reply { get; } = reply;
}

/// <summary>The peer broke the framing or the envelope: oversize or truncated message, a reply that is not a JSON object with a boolean "ok".</summary>
public sealed class ControlProtocolException(string message) : IOException(message);
