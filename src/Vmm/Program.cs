// The VMM is not built yet; this entry point says so instead of pretending.
Console.Error.WriteLine("vmm: not implemented yet (see the project's open issue 'VMM core')");
return 2;
