// Why the agent refused a request, as the API reports it (ApiError): the HTTP status, the field
// the refusal is about, and a message that starts with that field's name. Rules throw it; the
// HTTP layer turns it into the response, so a rule never knows it is served over HTTP.
using System.Net;
using VSwitch.Control.Api;

namespace VSwitch.Control.Agent.Validation;

public sealed class Refusal(HttpStatusCode status, string? field, string message)
    : Exception(field is null ? message : $"{field}: {message}")
{
    public HttpStatusCode Status { get; } = status;
    public string? Field { get; } = field;

    public ApiError Body => new(Message, Field);

    /// <summary>400: the field is missing or malformed, whatever else exists.</summary>
    public static Refusal Malformed(string field, string message) => new(HttpStatusCode.BadRequest, field, message);

    /// <summary>404: the field names a resource that does not exist.</summary>
    public static Refusal Missing(string field, string message) => new(HttpStatusCode.NotFound, field, message);

    /// <summary>409: the field is well-formed but clashes with what exists (a name or address taken, capacity used up).</summary>
    public static Refusal Conflict(string field, string message) => new(HttpStatusCode.Conflict, field, message);
}
