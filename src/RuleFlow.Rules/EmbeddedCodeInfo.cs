namespace RuleFlow.Rules;

/// <summary>
/// Code embedded in a rule's action that the host runs, not the engine: the Handlebars template of a <c>start workflow … with
/// template</c> (<see cref="Kind"/> <c>template</c>) or the JavaScript of a <c>script</c> action (<c>script</c>). The engine does not
/// parse them; a host checks them when the rules load (<c>ruleflow check</c>), or they fail when the action runs.
/// </summary>
/// <param name="Rule">The rule's name.</param>
/// <param name="Kind"><c>template</c> or <c>script</c>.</param>
/// <param name="Text">The template or script text, as written between the quotes.</param>
/// <param name="File">The rule file.</param>
/// <param name="Line">1-based line of the action.</param>
/// <param name="Column">1-based column of the action.</param>
public sealed record EmbeddedCodeInfo(string Rule, string Kind, string Text, string File, int Line, int Column);
