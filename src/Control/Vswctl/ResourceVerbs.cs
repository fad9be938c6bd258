// The verbs every kind of resource has, made from its route and its fields: create (with the
// options the kind gives), list, show NAME and delete NAME. A create prints the resource as the
// agent stored it (with the defaults it filled in); a delete prints nothing.
using System.CommandLine;
using VSwitch.Control.Api;

namespace VSwitch.Control.Vswctl;

/// <param name="Verb">The kind's word on the command line ("host").</param>
/// <param name="Noun">What one is called in help ("remote host").</param>
/// <param name="Collection">Its collection's route (Routes).</param>
internal sealed record ResourceVerbs<T>(string Verb, string Noun, string Collection, IReadOnlyList<Field<T>> Fields)
{
    /// <param name="create">The create verb's options, and the request they make with the NAME given.</param>
    public Command Command(AgentVerbs verbs, string description, IReadOnlyList<Option> createOptions, Func<ParseResult, string, T> create)
    {
        var name = new Argument<string>("NAME") { Description = $"the {Noun}'s name" };
        var createVerb = new Command("create", $"Create a {Noun}; prints it as the agent stored it") { name };
        foreach (Option option in createOptions)
            createVerb.Options.Add(option);
        verbs.SetAction(createVerb, async (parse, agent, printer, ct) =>
            printer.Show(await agent.CreateAsync(Collection, create(parse, parse.GetValue(name)!), ct).ConfigureAwait(false), Fields));

        var list = new Command("list", $"List the {Noun}s, one row each");
        verbs.SetAction(list, async (_, agent, printer, ct) =>
            printer.List(await agent.GetAsync<IReadOnlyList<T>>(Collection, ct).ConfigureAwait(false), Fields));

        var show = new Command("show", $"Show one {Noun}, a field a line") { name };
        verbs.SetAction(show, async (parse, agent, printer, ct) =>
            printer.Show(await agent.GetAsync<T>(Routes.Member(Collection, parse.GetValue(name)!), ct).ConfigureAwait(false), Fields));

        var delete = new Command("delete", $"Delete a {Noun}; prints nothing") { name };
        verbs.SetAction(delete, (parse, agent, _, ct) => agent.DeleteAsync(Collection, parse.GetValue(name)!, ct));

        return new Command(Verb, description) { createVerb, list, show, delete };
    }
}
