import Foundation
import Testing
@testable import ChatTemplates

/// Expected texts rendered by transformers' apply_chat_template (tools/make_chat_template_fixtures.py).
struct ChatTemplateFixture: Decodable {
    struct Template: Decodable {
        var source: String
        var variables: [String: String]
    }
    struct Message: Decodable {
        var role: String
        var content: String
    }
    struct Case: Decodable {
        var template: String
        var conversation: String
        var add_generation_prompt: Bool
        var messages: [Message]
        var expected: String
        /// Set when transformers raised (raise_exception): its message.
        var raises: String?
    }
    var now: String
    var templates: [String: Template]
    var cases: [Case]
}

func loadChatTemplateFixture() throws -> ChatTemplateFixture {
    let url = try #require(Bundle.module.url(forResource: "chat_templates", withExtension: "json", subdirectory: "Fixtures"),
                           "missing chat_templates.json; regenerate with tools/make_chat_template_fixtures.py")
    return try JSONDecoder().decode(ChatTemplateFixture.self, from: Data(contentsOf: url))
}

/// 2024-07-26 10:30:00 in the local time zone, the time the fixture's strftime_now saw.
func fixtureNow() -> Date {
    var c = DateComponents()
    (c.year, c.month, c.day, c.hour, c.minute, c.second) = (2024, 7, 26, 10, 30, 0)
    return Calendar(identifier: .gregorian).date(from: c)!
}

@Suite struct ChatTemplateFixtureTests {
    @Test func rendersEveryCaseLikeTransformers() throws {
        let fixture = try loadChatTemplateFixture()
        #expect(fixture.cases.count >= 67)
        #expect(fixture.cases.contains { $0.raises != nil })
        var parsed: [String: ChatTemplate] = [:]
        for (name, t) in fixture.templates { parsed[name] = try ChatTemplate(source: t.source, origin: name) }
        for c in fixture.cases {
            let template = try #require(parsed[c.template])
            let variables = fixture.templates[c.template]!.variables.mapValues { Value.string($0) }
            let messages = c.messages.map { ChatMessage(role: $0.role, content: $0.content) }
            if let raises = c.raises {
                do {
                    let text = try template.render(messages: messages, addGenerationPrompt: c.add_generation_prompt, variables: variables)
                    Issue.record("\(c.template) / \(c.conversation): expected raise_exception(\(raises)), rendered \(text.debugDescription)")
                } catch let e as TemplateError {
                    #expect(e.kind == .raised && e.message == raises, "\(e)")
                }
                continue
            }
            let text = try template.render(messages: messages, addGenerationPrompt: c.add_generation_prompt,
                                           variables: variables, now: fixtureNow())
            #expect(Array(text.utf8) == Array(c.expected.utf8),
                    "\(c.template) / \(c.conversation) / generation prompt \(c.add_generation_prompt):\n got \(text.debugDescription)\nwant \(c.expected.debugDescription)")
        }
    }

    @Test func coversTheThreeModelTemplates() throws {
        let fixture = try loadChatTemplateFixture()
        for name in ["smollm2", "qwen2.5", "llama3.2"] {
            #expect(fixture.cases.filter { $0.template == name }.count == 10, "\(name)")
        }
        #expect(fixture.templates["smollm2"]!.source.contains("SmolLM"))
    }
}

@Suite struct ChatTemplateRefusalTests {
    private func refusal(_ source: String, render: Bool = false) -> TemplateError? {
        do {
            let t = try ChatTemplate(source: source, origin: "t.jinja")
            if render { _ = try t.render(messages: [ChatMessage(role: "user", content: "q")], addGenerationPrompt: true) }
            return nil
        } catch let e as TemplateError {
            return e
        } catch {
            return nil
        }
    }

    @Test(arguments: [
        ("{% macro f() %}x{% endmacro %}", "'{% macro %}'", 1, 4),
        ("ab\n  {% include 'x' %}", "'{% include %}'", 2, 6),
        ("{% for m in messages recursive %}{% endfor %}", "'for ... recursive'", 1, 22),
        ("{% set x %}y{% endset %}", "block 'set' ('{% set x %}...{% endset %}')", 1, 4),
        ("{{ f(*xs) }}", "'*' or '**' arguments", 1, 6),
        ("{{ 1e3 }}", "number with an exponent", 1, 4),
    ])
    func refusedWhenParsing(_ source: String, _ construct: String, _ line: Int, _ column: Int) throws {
        let e = try #require(refusal(source))
        #expect(e.kind == .unsupported(construct: construct), "\(e)")
        #expect((e.line, e.column) == (line, column), "\(e)")
        #expect(e.description.contains("t.jinja:\(line):\(column)") && e.description.contains(construct))
    }

    @Test(arguments: [
        ("{{ messages|map(attribute='role')|join }}", "the filter '|map'"),
        ("{{ 'x' is sameas 'x' }}", "the test 'is sameas'"),
        ("{{ messages[0].content.zfill(3) }}", "the method '.zfill()' on a string"),
        ("{{ cycler(1) }}", "the function 'cycler()'"),
        ("{{ (1, 2) }}", "a tuple literal"),
        ("{{ 'x'|tojson(sort_keys=true) }}", "the argument 'sort_keys=' of 'tojson'"),
        ("{{ strftime_now('%j') }}", "the strftime directive '%j'"),
    ])
    func refusedWhenRendering(_ source: String, _ construct: String) throws {
        let e = try #require(refusal(source, render: true))
        #expect(e.kind == .unsupported(construct: construct), "\(e)")
        #expect(e.description.contains(construct) && e.description.contains("t.jinja:1:"))
    }

    @Test func raiseExceptionAndSyntaxErrorsNameThePlace() throws {
        let raised = try #require(refusal("x\n{{ raise_exception('no system role') }}", render: true))
        #expect(raised.kind == .raised && raised.message == "no system role" && raised.line == 2)
        let open = try #require(refusal("{% if true %}x"))
        #expect(open.kind == .syntax && open.description.contains("endif") && (open.line, open.column) == (1, 4))
        let unclosed = try #require(refusal("ok {{ 'a' "))
        #expect(unclosed.kind == .syntax && (unclosed.line, unclosed.column) == (1, 4))
        let undefinedAttribute = try #require(refusal("{{ nothing.role }}", render: true))
        #expect(undefinedAttribute.kind == .runtime && undefinedAttribute.description.contains("'nothing' is undefined"))
    }
}
