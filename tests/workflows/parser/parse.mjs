// GitHub's own workflow parser as a long-lived process, so that one node start serves a whole test session.
//
// Each line on stdin is one request: a JSON object of repository path -> file text (the workflows, plus any
// reusable workflow they call). Each gets one line on stdout: a JSON object of the same paths -> the errors the
// parser reports for that file, after `parseWorkflow` and `convertWorkflowTemplate` (which loads each local
// reusable workflow a job calls from the same request, one level deep, as GitHub does when it starts a run).
import { createInterface } from "node:readline";

import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";

async function errors(path, files) {
  const result = parseWorkflow({ name: path, content: files[path] }, new NoOperationTraceWriter());
  if (result.value !== undefined) {
    const provider = {
      async getFileContent(ref) {
        if ("repository" in ref || !(ref.path in files)) {
          throw new Error(`not in this request: ${JSON.stringify(ref)}`);
        }
        return { name: ref.path, content: files[ref.path] };
      },
    };
    await convertWorkflowTemplate(result.context, result.value, provider, { fetchReusableWorkflowDepth: 1 });
  }
  return result.context.errors.getErrors().map((error) => error.message);
}

for await (const line of createInterface({ input: process.stdin })) {
  const files = JSON.parse(line);
  const answer = {};
  for (const path of Object.keys(files)) {
    answer[path] = await errors(path, files);
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
