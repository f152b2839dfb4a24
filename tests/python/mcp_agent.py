#!/usr/bin/env python3
"""An AI agent's side of `kgentctl mcp`, with the official MCP client SDK (Python `mcp`):
spawns the server command over stdio, lists the tools, then calls host_info, search_probes,
ask, run (arbitrary program text, then the verified answer by its request_id) and history.
Prints one JSON document: {"tools": [...], "calls": [{"tool", "arguments", "is_error",
"result"}]}. Used by tests/tests/mcp.rs.

  mcp_agent.py REQUEST -- COMMAND [ARG...]
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

PROGRAM = 'BEGIN { printf("hello from text the agent wrote\\n"); exit(); }'


async def agent(request, command):
    server = StdioServerParameters(command=command[0], args=command[1:])
    calls = []
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]

            async def call(tool, arguments):
                result = await session.call_tool(tool, arguments)
                calls.append({
                    "tool": tool,
                    "arguments": arguments,
                    "is_error": bool(result.is_error),
                    "result": result.structured_content,
                })
                return result.structured_content or {}

            await call("host_info", {})
            await call("search_probes", {"query": "file opened", "limit": 5})
            answer = await call("ask", {"request": request})
            await call("run", {"program": PROGRAM, "duration_s": 2})
            if answer.get("verified"):
                await call("run", {"request_id": answer["request_id"], "duration_s": 2})
            await call("history", {})
    return {"tools": tools, "calls": calls}


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit(__doc__)
    print(json.dumps(asyncio.run(agent(argv[1], argv[3:]))))


if __name__ == "__main__":
    main(sys.argv)
